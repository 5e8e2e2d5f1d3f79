"""What the terminal's screen shows: the QR code, the user code, and the progress lines.

The QR code is drawn with Unicode half blocks (``qrcode``'s ``print_ascii``), two modules per
character cell, dark on light, so a phone camera reads it off an ordinary terminal.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from .device import DeviceAuthorization, InPersonCheck, mask_card_number

PROGRESS: dict[str, str] = {
    "waiting": "等待市民在一网通办 App 中确认… / Waiting for the citizen to approve in the app…",
    "pending": ".",
    "slow_down": "平台要求放慢轮询，间隔 {interval} 秒 / The IdP asked to slow down: polling "
    "every {interval} s",
    "unreachable": "暂时无法连接平台，{interval} 秒后重试 / The IdP is unreachable; retrying in "
    "{interval} s",
    "approved": "已确认 / Approved",
    "denied": "已拒绝 / Denied",
    "expired": "已过期 / Expired",
}


def qr_text(data: str) -> str:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2)
    code.add_data(data)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def instructions(authorization: DeviceAuthorization) -> str:
    minutes = max(1, (authorization.expires_in + 59) // 60)
    lines = []
    if authorization.verification_uri_complete:
        lines += [qr_text(authorization.verification_uri_complete).rstrip("\n"), ""]
        lines.append("请用一网通办 App 扫描二维码，或在 App 中输入用户码。")
        lines.append("Scan the QR code with the 一网通办 app, or enter the user code in the app.")
    else:
        lines.append("请在一网通办 App 中输入用户码。 / Enter the user code in the 一网通办 app.")
    lines += [
        f"  用户码 / User code: {authorization.user_code}",
        f"  网页确认 / Or visit: {authorization.verification_uri}",
        f"  有效期 / Valid for: {minutes} min",
    ]
    return "\n".join(lines)


def progress(what: str, interval: int) -> str:
    return PROGRESS.get(what, what).format(interval=interval)


def in_person_line(check: InPersonCheck) -> str:
    """What the terminal attests, the card number masked (never shown in clear)."""
    number = mask_card_number(check.id_card_number)
    return (
        f"现场核验 / In-person check: 身份证 / ID card {number}, "
        f"窗口人员 / clerk {check.clerk_id} (L4)"
    )


def signed_in_line(who: str, claims: Mapping[str, Any]) -> str:
    """``张三  sid …  acr L4  amr pwd, otp, ipv`` — acr and amr as far as the ID token has them."""
    parts = [f"{who}  sid {claims.get('sid')}"]
    if claims.get("acr"):
        parts.append(f"acr {claims['acr']}")
    amr = claims.get("amr")
    if isinstance(amr, list) and amr:
        parts.append("amr " + ", ".join(str(m) for m in amr))
    return "  ".join(parts)
