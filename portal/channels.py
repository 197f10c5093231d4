"""How a delivery leaves: an SMS provider (selected by `SMS_PROVIDER`) and SMTP for e-mail.

- `log` (the default) writes what would be sent to the log and to `messages.log` in the data
  dir, and returns an id: the demo and a town without an SMS contract still see every message.
- `aliyun`: Alibaba Cloud SMS, `SendSms` of API version 2017-05-25, as an RPC request signed
  with HMAC-SHA1 (signature version 1.0, the documented "RPC signature": sorted, percent-encoded
  parameters, `GET&%2F&…`, key = AccessKeySecret + "&"). The official SDK pulls in a dozen
  packages of its own HTTP and signing stack for this one request; the signed request is small
  and is tested against a stub server that checks the signature as Alibaba documents it.
- E-mail: `smtplib` with STARTTLS and login when configured.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from portal.logs import mask

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """The provider did not take the message: `permanent` when trying again cannot help
    (a wrong number, a template not approved, bad credentials)."""

    def __init__(self, answer: str, *, permanent: bool = False):
        super().__init__(answer)
        self.permanent = permanent


class LogProvider:
    def __init__(self, config):
        self.path = Path(config["PORTAL_DATA_DIR"]) / "messages.log"

    def send(self, phone: str, template: str, params: dict, *, out_id: str) -> str:
        # The number masked like any log line (portal/logs.py): the out_id finds the
        # message's row, where the whole number is.
        line = json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"),
                           "phone": mask(phone),
                           "template": template, "params": params, "out_id": out_id},
                          ensure_ascii=False)
        log.info("SMS (log provider) %s", line)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return f"log-{out_id}"


def percent_encode(text: str) -> str:
    """Alibaba's POP encoding: RFC 3986, space as %20, `~` kept, `*` encoded."""
    return urllib.parse.quote(text, safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# Answers after which the same request can never succeed (Alibaba's documented codes).
ALIYUN_PERMANENT = ("isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL",
                    "isv.SMS_SIGNATURE_ILLEGAL", "isv.INVALID_PARAMETERS",
                    "isv.TEMPLATE_MISSING_PARAMETERS", "isv.PARAM_LENGTH_LIMIT",
                    "isv.BLACK_KEY_CONTROL_LIMIT", "isv.ACCOUNT_NOT_EXISTS",
                    "SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound",
                    "isv.MOBILE_COUNT_OVER_LIMIT")


class AliyunProvider:
    def __init__(self, config):
        self.endpoint = config["ALIYUN_SMS_ENDPOINT"]
        self.key_id = config["ALIYUN_ACCESS_KEY_ID"]
        self.secret = config["ALIYUN_ACCESS_KEY_SECRET"]
        self.sign_name = config["SMS_SIGN_NAME"]
        self.region = config["ALIYUN_REGION"]
        if not (self.key_id and self.secret and self.sign_name):
            raise SendFailed("SMS_PROVIDER=aliyun needs ALIYUN_ACCESS_KEY_ID, "
                             "ALIYUN_ACCESS_KEY_SECRET and SMS_SIGN_NAME", permanent=True)

    def request(self, phone: str, template: str, params: dict, *, out_id: str) -> dict:
        """The query parameters of one SendSms call, signed."""
        query = {
            "AccessKeyId": self.key_id, "Action": "SendSms", "Format": "JSON",
            "RegionId": self.region, "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25", "PhoneNumbers": phone, "SignName": self.sign_name,
            "TemplateCode": template, "OutId": out_id,
        }
        if params:
            query["TemplateParam"] = json.dumps(params, ensure_ascii=False, separators=(",", ":"))
        query["Signature"] = aliyun_signature(query, self.secret)
        return query

    def send(self, phone: str, template: str, params: dict, *, out_id: str) -> str:
        query = self.request(phone, template, params, out_id=out_id)
        url = f"{self.endpoint}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")[:500]
            try:
                code = json.loads(body).get("Code", "")
            except ValueError:
                code = ""
            raise SendFailed(f"HTTP {error.code}: {body}",
                             permanent=code in ALIYUN_PERMANENT) from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            raise SendFailed(f"{type(error).__name__}: {error}") from None
        if answer.get("Code") != "OK":
            raise SendFailed(f"{answer.get('Code')}: {answer.get('Message')}",
                             permanent=answer.get("Code") in ALIYUN_PERMANENT)
        return str(answer.get("BizId") or answer.get("RequestId"))


PROVIDERS = {"log": LogProvider, "aliyun": AliyunProvider}


def sms_provider(config):
    try:
        return PROVIDERS[config["SMS_PROVIDER"]](config)
    except KeyError:
        raise SendFailed(f"unknown SMS_PROVIDER {config['SMS_PROVIDER']!r}",
                         permanent=True) from None


def send_email(config, to: str, subject: str, body: str, attachments=()) -> str:
    """Send one plain-text e-mail (with `attachments`: (filename, maintype, subtype, bytes))
    through the configured SMTP server; returns its Message-ID."""
    if not config["SMTP_HOST"]:
        raise SendFailed("no SMTP_HOST configured", permanent=True)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = config["MAIL_FROM"], to, subject
    mail["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2] or None)
    mail.set_content(body)
    for filename, maintype, subtype, data in attachments:
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=15) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USER"]:
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as error:
        raise SendFailed(f"recipient refused: {error.recipients}", permanent=True) from None
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailed(f"{type(error).__name__}: {error}") from None
    return mail["Message-ID"]
