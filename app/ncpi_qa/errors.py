"""The errors a person may see. Each class says what went wrong, in words that fit wherever
it is read; what to do about it depends on where it is read (a terminal, the chat), so the
advice is added at each boundary: ``apps/advice.py`` (the command line's and the chat's).

Each keeps what its advice needs as attributes (e.g. ``StoreWriteError.disk_full``)."""

from __future__ import annotations

import errno


class NcpiError(Exception):
    """An error shown to the user as one message, with a non-zero exit and no traceback.

    ``code`` is a stable snake_case name for scripts (``ask --json`` prints
    ``{"error": {"code", "message", "advice"}}`` on stdout)."""

    exit_code = 1
    code = "error"


class NoIndexError(NcpiError):
    code = "no_index"

    def __init__(self, store_dir):
        self.store_dir = store_dir
        super().__init__(f"No index found in {store_dir}.")


class IndexIncompatibleError(NcpiError):
    code = "index_incompatible"

    def __init__(self, store_dir, reason):
        self.store_dir, self.reason = store_dir, reason
        super().__init__(f"The index in {store_dir} cannot be used ({reason}).")


class EmptyCorpusError(NcpiError):
    code = "empty_corpus"

    def __init__(self, corpus_dir, skipped):
        self.corpus_dir, self.skipped = corpus_dir, list(skipped)
        detail = "".join(f"\n  skipped {name}: {why}" for name, why in self.skipped)
        super().__init__(
            f"No readable document in {corpus_dir} (a .txt, .md, .html, .pdf or .docx file)."
            f"{detail}"
        )


class CorpusNotFoundError(NcpiError):
    code = "corpus_not_found"

    def __init__(self, corpus_dir):
        self.corpus_dir = corpus_dir
        super().__init__(f"Corpus folder {corpus_dir} does not exist or is not a folder.")


class UnknownDocumentError(NcpiError):
    code = "unknown_document"

    def __init__(self, doc_id, known):
        self.doc_id, self.known = doc_id, list(known)
        super().__init__(
            f"No document with id '{doc_id}'. Known ids: {', '.join(self.known) or '(none)'}."
        )


class EmptyQuestionError(NcpiError):
    code = "empty_question"

    def __init__(self):
        super().__init__("The question is empty.")


class QuestionTooLongError(NcpiError):
    code = "question_too_long"

    def __init__(self, n, limit):
        self.n, self.limit = n, limit
        super().__init__(f"The question is {n} characters long; the limit is {limit}.")


class ModelNotAvailableError(NcpiError):
    code = "model_not_available"

    def __init__(self, name, reason):
        self.name, self.reason = name, reason
        super().__init__(f"The embedding model '{name}' could not be loaded offline ({reason}).")


class DatasetError(NcpiError):
    code = "dataset_error"

    def __init__(self, path, reason):
        super().__init__(f"Cannot read the eval dataset {path}: {reason}")


class AnswererWeightsError(NcpiError):
    """The learned answerer's weights are missing or do not fit this version."""

    code = "answerer_weights"

    def __init__(self, reason):
        super().__init__(f"The answerer cannot start: {reason}.")


class IndexBusyError(NcpiError):
    code = "index_busy"

    def __init__(self, store_dir, waited, holder=""):
        self.waited, self.holder = waited, holder
        who = f" ({holder})" if holder else ""
        super().__init__(
            f"Another build is writing the index in {store_dir}{who}; gave up after waiting "
            f"{waited:.0f}s."
        )


class StoreWriteError(NcpiError):
    code = "store_not_writable"

    def __init__(self, store_dir, err: OSError):
        self.store_dir = store_dir
        self.disk_full = err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        reason = err.strerror or str(err)
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        super().__init__(
            f"Could not write the index in {store_dir}: {reason}{where}. "
            "The previous index, if any, is unchanged and partial files were removed."
        )


class BadArgumentError(NcpiError):
    """A command-line argument that cannot be used (raised by the command line only, so its
    message may name the flags)."""

    code = "bad_argument"
    exit_code = 2

    def __init__(self, message):
        super().__init__(message)


class QuestionEncodingError(NcpiError):
    code = "bad_question_encoding"

    def __init__(self):
        super().__init__("The question is not valid text (it holds bytes that are not UTF-8).")


class RemoteBindRefusedError(NcpiError):
    code = "remote_bind_refused"
    exit_code = 2

    def __init__(self, host):
        self.host = host
        super().__init__(
            f"Refusing to serve on {host}: that opens the app to other machines on the network, "
            "and anyone who can reach it can ask questions and upload files."
        )


class UnexpectedError(NcpiError):
    """Anything else, so a command never ends in a raw traceback (NCPI_QA_DEBUG=1 shows it)."""

    code = "internal_error"

    def __init__(self, err: BaseException):
        self.err = err
        super().__init__(f"Unexpected error ({type(err).__name__}: {err}). This is a bug.")


class PortUnavailableError(NcpiError):
    code = "port_unavailable"

    def __init__(self, host, port, err: OSError):
        self.host, self.port = host, port
        super().__init__(
            f"Cannot serve the app on {host}:{port} ({err.strerror or err}). Another program "
            "(or another copy of this app) may be using that port."
        )


class AuthFileError(NcpiError):
    """The auth file cannot be used (unreadable, or a line that is not user:password)."""

    code = "auth_file_unusable"
    exit_code = 2

    def __init__(self, message):
        super().__init__(f"{message}.")


class LoadError(NcpiError):
    """A file that cannot be read as a document; the message is the reason (the index skips
    the file and names it with this reason; the upload panel shows it)."""

    code = "unreadable_file"


class LimitError(LoadError):
    """A file over one of the content limits; the message names the limit and its setting."""

    code = "over_limit"


class IndexWriterBusyError(IndexBusyError):
    """A second build of one Milvus index: one writer at a time (its lease, in
    index/milvus_lease.py)."""

    code = "index_writer_busy"

    def __init__(self, where, waited, holder=""):
        self.waited, self.holder = waited, holder
        who = f" ({holder})" if holder else ""
        NcpiError.__init__(
            self,
            f"Another build is writing the index {where}{who}; one build at a time may write it. "
            f"Gave up after waiting {waited:.0f}s.",
        )


class VectorStoreUnavailableError(NcpiError):
    code = "vector_store_unavailable"

    def __init__(self, uri, reason):
        self.uri, self.reason = uri, reason
        super().__init__(f"Cannot use the Milvus server at {uri} ({reason}).")
