"""Patient handles (患者ハンドル): what an institution names a patient by after a check.

Split from the service so that the service module stays readable in one sitting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kokuho.verify._access import AccessDenied

PATIENT_HANDLE_DAYS = 1  # a handle from a check serves that day and the next


class PatientHandles:
    """Opaque handles an institution uses after a check to name the patient it asked about.

    One AES block: the person id, the day of issue and a tag bound to the institution. It is
    32 hex characters (a valid FHIR id), useless to another institution, and expires after a
    day; it never reveals the internal person id.
    """

    def __init__(self, service_key: bytes) -> None:
        self._key = hashlib.sha256(b"patient-handle|" + service_key).digest()
        self._cipher = Cipher(algorithms.AES(self._key[:16]), modes.ECB())
        # Keyed once; each tag continues a copy (setting up the key cost more than the tag).
        self._mac = hmac.new(self._key[16:], digestmod=hashlib.sha256)
        # ECB encrypts each block on its own, so one context serves every handle of a thread
        # (it is never finalized); making a context per handle cost more than the AES.
        self._local = threading.local()

    def _tag(self, institution: str, person_id: int, day: int) -> bytes:
        mac = self._mac.copy()
        mac.update(f"{institution}|{person_id}|{day}".encode())
        return mac.digest()[:8]

    def _encrypt(self, block: bytes) -> bytes:
        encryptor = getattr(self._local, "encryptor", None)
        if encryptor is None:
            encryptor = self._local.encryptor = self._cipher.encryptor()
        encrypted: bytes = encryptor.update(block)
        return encrypted

    def issue(self, institution: str, person_id: int, today: dt.date) -> str:
        day = today.toordinal()
        block = person_id.to_bytes(4, "big") + day.to_bytes(4, "big")
        block += self._tag(institution, person_id, day)
        return self._encrypt(block).hex()

    def resolve(self, institution: str, handle: str, today: dt.date) -> int:
        try:
            raw = bytes.fromhex(handle)
        except ValueError:
            raw = b""
        if len(raw) != 16:
            raise AccessDenied("bad_patient_handle", "the patient handle is malformed")
        decryptor = self._cipher.decryptor()
        block = decryptor.update(raw) + decryptor.finalize()
        person_id = int.from_bytes(block[:4], "big")
        day = int.from_bytes(block[4:8], "big")
        if not hmac.compare_digest(block[8:], self._tag(institution, person_id, day)):
            raise AccessDenied(
                "bad_patient_handle",
                "the patient handle is invalid or belongs to another institution",
            )
        if not 0 <= today.toordinal() - day <= PATIENT_HANDLE_DAYS:
            raise AccessDenied("bad_patient_handle", "the patient handle has expired")
        return person_id
