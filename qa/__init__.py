"""Core of the article question-answering assistant: reading, indexing, retrieval, answers.

Nothing here imports a UI toolkit, and nothing heavy (torch, faiss) is imported at package import.
"""

__version__ = "0.1.0"
