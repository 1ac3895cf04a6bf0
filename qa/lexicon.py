"""Lexical evidence: which of a question's words a passage really holds.

The refusal decision and sentence choice compare a question's content words with a passage's. Plain
stems miss what any reader matches at a glance: "told" is "tell", "Russian" is "Russia", "Kiev" is
"Kyiv". And some question words are the question's frame, not its content: "how *many*", "*must*",
"so *far*" name the kind of answer wanted; a passage that answers holds a number, not the word
"many". Only the evidence uses this; the keyword index keeps its plain stems.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .text import STOPWORDS, stem, words

# Past forms of common irregular verbs: news reports in the past tense, questions ask in the present.
_IRREGULAR = """arose:arise awoke:awake bore:bear beat:beat became:become began:begin begun:begin bent:bend bet:bet
bid:bid bound:bind bit:bite bitten:bite bled:bleed blew:blow blown:blow broke:break broken:break bred:breed
brought:bring built:build burnt:burn burst:burst bought:buy cast:cast caught:catch chose:choose chosen:choose
came:come cost:cost crept:creep cut:cut dealt:deal dug:dig drew:draw drawn:draw drank:drink drunk:drink drove:drive
driven:drive ate:eat eaten:eat fell:fall fallen:fall fed:feed felt:feel fought:fight found:find fled:flee flew:fly
flown:fly forbade:forbid forgot:forget forgotten:forget forgave:forgive froze:freeze frozen:freeze got:get
gotten:get gave:give given:give went:go gone:go grew:grow grown:grow hung:hang heard:hear hid:hide hidden:hide
hit:hit held:hold hurt:hurt kept:keep knew:know known:know laid:lay led:lead leapt:leap learnt:learn left:leave
lent:lend let:let lay:lie lain:lie lit:light lost:lose made:make meant:mean met:meet paid:pay put:put quit:quit
read:read rode:ride ridden:ride rang:ring rung:ring rose:rise risen:rise ran:run sought:seek saw:see seen:see
sold:sell sent:send set:set shook:shake shaken:shake shot:shoot shut:shut sang:sing sung:sing sank:sink sat:sit
slept:sleep slid:slide spoke:speak spoken:speak spent:spend spun:spin split:split spread:spread stood:stand
stole:steal stolen:steal stuck:stick struck:strike stricken:strike swore:swear sworn:swear swept:sweep swam:swim
took:take taken:take taught:teach tore:tear torn:tear told:tell thought:think threw:throw thrown:throw
understood:understand undertook:undertake undertaken:undertake upheld:uphold woke:wake wore:wear worn:wear
wept:weep withdrew:withdraw withdrawn:withdraw wrote:write written:write"""

# A nationality matches its country: "Russian troops" answers a question about Russia's troops.
_DEMONYMS = """afghan:afghanistan african:africa albanian:albania algerian:algeria american:america arab:arabia
argentine:argentina argentinian:argentina armenian:armenia asian:asia australian:australia austrian:austria
azerbaijani:azerbaijan belarusian:belarus belgian:belgium bosnian:bosnia brazilian:brazil british:britain
bulgarian:bulgaria canadian:canada chilean:chile chinese:china colombian:colombia croatian:croatia cuban:cuba
czech:czechia danish:denmark dutch:netherlands egyptian:egypt english:england estonian:estonia
ethiopian:ethiopia european:europe finnish:finland french:france georgian:georgia german:germany greek:greece
hungarian:hungary indian:india indonesian:indonesia iranian:iran iraqi:iraq irish:ireland israeli:israel
italian:italy japanese:japan jordanian:jordan kazakh:kazakhstan kenyan:kenya korean:korea kurdish:kurdistan
latvian:latvia lebanese:lebanon libyan:libya lithuanian:lithuania mexican:mexico moldovan:moldova
moroccan:morocco nigerian:nigeria norwegian:norway pakistani:pakistan palestinian:palestine polish:poland
portuguese:portugal romanian:romania russian:russia saudi:arabia serbian:serbia slovak:slovakia
slovenian:slovenia somali:somalia spanish:spain swedish:sweden swiss:switzerland syrian:syria turkish:turkey
ukrainian:ukraine venezuelan:venezuela vietnamese:vietnam yemeni:yemen
kiev:kyiv soviet:ussr"""


def _table(spec: str) -> dict[str, str]:
    pairs = (item.split(":") for item in spec.split())
    return {stem(a): stem(b) for a, b in pairs if stem(a) != stem(b)}


_CANONICAL = _table(_IRREGULAR) | _table(_DEMONYMS)
_NATIONALITIES = frozenset(stem(w) for pair in _DEMONYMS.split() for w in pair.split(":"))
# Words that frame what is asked rather than name what it is about: "how *many*", "*must*", "so *far*",
# "*going* to", "*take place*", "the *name* of", and a noun naming the kind of answer ("which *city* did..."):
# a passage that answers names the city; it rarely says "city". Only such kind-nouns: "what *tanks* has
# Turkey sold?" asks about tanks, and a passage about drones does not answer it.
_MODALS = frozenset("must might shall ought".split())
_FRAME_AFTER = {"how": frozenset("many much long old far often soon big large tall".split()), "so": frozenset({"far"})}
_FRAME_BEFORE = {"going": "to", "name": "of", "names": "of", "kind": "of", "kinds": "of", "sort": "of", "type": "of"}
_TAKE = frozenset({"take", "takes", "took", "taken", "taking"})
_ANSWER_KINDS = frozenset(
    """city cities town towns country countries nation nations place places region regions province capital year years
    month months day days date dates time person people company companies firm organization organisation group groups
    party parties leader leaders official officials agency channel network newspaper team reason reasons purpose way
    ways method condition conditions role position""".split()
)
_NUMBER_WORDS = frozenset("two three four five six seven eight nine ten eleven twelve".split())


def _frame_positions(tokens: list[str]) -> set[int]:
    frame = set()
    for i, w in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if w in _MODALS or w in _FRAME_AFTER.get(before, ()) or _FRAME_BEFORE.get(w) == after:
            frame.add(i)
        elif w in _TAKE and after == "place":
            frame |= {i, i + 1}
        elif w in ("which", "what"):
            j = i + 1
            # Past one qualifier: "which *Turkish* city", "which *two* leaders".
            if j + 1 < len(tokens) and (stem(tokens[j]) in _NATIONALITIES or tokens[j] in _NUMBER_WORDS or tokens[j].isdigit()):
                j += 1
            if j < len(tokens) and tokens[j] in _ANSWER_KINDS:
                frame.add(j)
    return frame


# The short forms of two country names. "US" and "UK" are names only in capitals (lower-cased, "us" is a
# pronoun), and "U.S." is not the start of "U.S.S.R.".
_ABBREVIATIONS = [
    (re.compile(r"\bU\.?S\.?(?![\w.])|\bUSA\b|\bUnited States\b"), "America"),
    (re.compile(r"\bU\.?K\.?(?![\w.])|\bUnited Kingdom\b"), "Britain"),
]
# A question word and a passage word of one family share a start of five letters or more and differ by a
# derivational ending: "annex"/"annexation", "Crimea"/"Crimean", "Ukraine"/"Ukrainian". Without the ending
# check, "police" would be "policy" and "count" would be "country".
_PREFIX = 5
_ENDINGS = frozenset(
    """n an ian ans ians ation ations ition ion ions al ial ic ical ment ments ity ive ist ists ism er ers or ors ance
    ence ant ants ent ents ness ship ize ise ized ised""".split()
)


def _expand(text: str) -> str:
    for pattern, name in _ABBREVIATIONS:
        text = pattern.sub(name, text)
    return text


def _family(a: str, b: str) -> bool:
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= _PREFIX and long_.startswith(short) and long_[len(short):] in _ENDINGS


def holds(term: str, have: frozenset[str]) -> bool:
    """Whether a passage's terms include a question term or a word of its family."""
    if term in have:
        return True
    return len(term) >= _PREFIX and any(_family(term, h) for h in have)


def word_term(word: str) -> str:
    """The canonical term of one word as it stands in a sentence."""
    folded = words(word)
    return canonical(stem(folded[0])) if folded else ""


def canonical(term: str) -> str:
    """The form a stemmed term is compared in."""
    return _CANONICAL.get(term, term)


@lru_cache(maxsize=8192)  # the same passages come back question after question; read each once
def evidence_terms(text: str) -> frozenset[str]:
    """The canonical content terms a passage or sentence holds."""
    return frozenset({canonical(stem(w)) for w in words(_expand(text)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())})


def question_terms(question: str) -> list[tuple[str, str]]:
    """(stem, canonical term) of each content word of a question, its frame words left out, in order."""
    tokens = words(_expand(question))
    frame = _frame_positions(tokens)
    out: list[tuple[str, str]] = []
    for i, w in enumerate(tokens):
        if i in frame or w in STOPWORDS or (len(w) <= 1 and not w.isdigit()):
            continue
        s = stem(w)
        out.append((s, canonical(s)))
    return out
