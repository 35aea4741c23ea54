"""Email over SMTP (aiosmtplib).

Messages are `email.message.EmailMessage` with the SMTP policy: a Chinese
subject is encoded per RFC 2047, the body is UTF-8 text/plain. The
``Message-ID`` is derived from the delivery's id, so a retried mail carries
the same one (mail clients and archives can deduplicate on it).

Results: accepted by the server → delivered; a 5xx answer (a refused
mailbox) is a permanent rejection of this delivery; 4xx answers, timeouts
and connection failures are retried.
"""
from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

import aiosmtplib

from services.notify.domain.policy import AttemptResult, Verdict, timed_out, unreachable


def build_message(*, msg_id: str, sender: str, to: list[str], subject: str, body: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{msg_id}@notify.shuangda>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, subtype="plain", charset="utf-8")
    return message


class EmailSender:
    channel = "email"

    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None, password: str | None = None,
                 starttls: bool = False, tls: bool = False, timeout: float = 15.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.tls, self.timeout = starttls, tls, timeout

    async def send(self, *, msg_id: str, to: list[str], subject: str, body: str) -> AttemptResult:
        message = build_message(msg_id=msg_id, sender=self.sender, to=to, subject=subject, body=body)
        try:
            refused, _ = await aiosmtplib.send(
                message, hostname=self.host, port=self.port, username=self.username, password=self.password,
                use_tls=self.tls, start_tls=self.starttls if not self.tls else False, timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({r.code for r in exc.recipients})
            if all(c >= 500 for c in codes):
                return AttemptResult(Verdict.REJECTED, "rejected", codes[0], detail=f"SMTP {codes[0]}: every recipient refused")
            return AttemptResult(Verdict.RETRY, "4xx", codes[0], detail=f"SMTP {codes[0]}: recipients deferred")
        except aiosmtplib.SMTPTimeoutError:
            return timed_out(f"SMTP: no answer within {self.timeout:g} s")
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            return unreachable(f"SMTP: {type(exc).__name__}")
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                return AttemptResult(Verdict.REJECTED, "rejected", exc.code, detail=f"SMTP {exc.code}")
            return AttemptResult(Verdict.RETRY, "4xx", exc.code, detail=f"SMTP {exc.code}")
        except aiosmtplib.SMTPException as exc:
            return AttemptResult(Verdict.RETRY, "error", detail=f"SMTP: {type(exc).__name__}")
        detail = f"accepted; {len(refused)} of {len(to)} mailbox(es) refused" if refused else "accepted"
        return AttemptResult(Verdict.DELIVERED, "2xx", 250, detail=detail)
