"""The public face of the V08 reader and writer, for the package ``__init__`` to export."""

from kokuho.checkups._v08_common import ArchiveProblem, ArchiveRejected, DocumentRejected
from kokuho.checkups._v08_document import read_document, read_guidance_document
from kokuho.checkups._v08_read import ArchiveContents, read_archive
from kokuho.checkups._v08_write import write_archive, write_document, write_guidance_document

__all__ = [
    "ArchiveContents",
    "ArchiveProblem",
    "ArchiveRejected",
    "DocumentRejected",
    "read_archive",
    "read_document",
    "read_guidance_document",
    "write_archive",
    "write_document",
    "write_guidance_document",
]
