"""Domain errors. The library raises them; the CLI and the API translate them, once.

    QAError
    ├── ConfigError          a setting is invalid (bad URL, unknown model)
    ├── CorpusError          a corpus path or article cannot be used
    │   └── UnreadableFile   one file is not UTF-8 text, binary or empty
    ├── ArticleNotFound      `show` or a filter names an article that is not ingested
    │   └── NothingMatches   a filter's articles, outlet or dates match nothing stored
    ├── StoreUnavailable     Chroma cannot be reached or opened
    ├── NotIngested          the store is empty: run `qa ingest` first
    ├── EmbeddingError       the embedding model cannot be loaded or called
    │   └── UnreadableModel  a cached ONNX export cannot be loaded (it is exported again)
    ├── LLMError             the configured LLM endpoint failed
    ├── RemoteError          a server under evaluation failed or cannot be reached
    └── BadRequest           a question or request is malformed
"""


class QAError(Exception):
    """Base of every error the library raises on purpose."""


class ConfigError(QAError):
    """A setting is invalid."""


class CorpusError(QAError):
    """A corpus path or article cannot be used."""


class UnreadableFile(CorpusError):
    """One corpus file cannot be read as an article."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ArticleNotFound(QAError):
    """An article id that is not in the store."""


class NothingMatches(ArticleNotFound):
    """A filter names articles, an outlet or a date range the store holds nothing of."""


class StoreUnavailable(QAError):
    """Chroma cannot be reached or opened."""


class NotIngested(QAError):
    """The store holds no articles yet."""


class EmbeddingError(QAError):
    """The embedding model cannot be loaded or called."""


class UnreadableModel(EmbeddingError):
    """A cached ONNX export cannot be loaded (cut short or corrupt)."""


class LLMError(QAError):
    """The configured LLM endpoint failed."""


class RemoteError(QAError):
    """A server under evaluation failed or cannot be reached."""


class BadRequest(QAError):
    """A question or request is malformed."""
