"""Core of the article question-answering assistant: reading, indexing, retrieval, answers.

Nothing here imports a UI toolkit, and nothing heavy (onnxruntime, torch, faiss) is imported at package
import. Importing the package does one thing: it tells the model hub libraries to stay offline, before
any of them can load (see qa/offline.py).
"""

from .offline import go_offline as _go_offline

__version__ = "0.1.0"

_go_offline()
