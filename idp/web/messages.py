"""Page messages for domain errors, by stable error code (translated; never echo input)."""

from __future__ import annotations

from flask_babel import gettext

from idp.errors import IdpError, RateLimited


def _(text: str, **kwargs: object) -> str:
    return str(gettext(text, **kwargs))


def error_message(exc: IdpError) -> str:
    code = exc.code
    if isinstance(exc, RateLimited):
        minutes = max(1, (exc.retry_after + 59) // 60)
        if code == "rate_limited.sms_resend":
            return _("A code was sent a moment ago. You can ask for a new one in %(s)d seconds.",
                     s=exc.retry_after)
        if code == "rate_limited.sms_window":
            return _("Too many codes were sent to this phone. Try again in %(m)d minutes.",
                     m=minutes)
        if code == "rate_limited.face":
            return _("Too many face verifications were started for this account. Try again in "
                     "%(m)d minutes.", m=minutes)
        if code == "rate_limited.ip":
            return _("Too many failed sign-ins from this network. Try again in %(m)d minutes.",
                     m=minutes)
        return _("Too many failed sign-ins for this account. Try again in %(m)d minutes.",
                 m=minutes)
    messages = {
        "auth.failed": _("The ID number / phone number or the password is not correct."),
        "account.locked": _("This account is locked. Call the service hotline or visit a "
                            "service counter with your ID card."),
        "account.duplicate_id_number": _("An account already exists for this ID number. Sign "
                                         "in instead."),
        "account.duplicate_phone": _("This phone number is already bound to another account."),
        "registry.mismatch": _("The name does not match the population registry for this ID "
                               "number. Check both against your ID card."),
        "registry.unavailable": _("The real-name check is unavailable right now. Please try "
                                  "again in a few minutes."),
        "id_number.length": _("The ID number must have 18 characters (or 15 for an old card)."),
        "id_number.characters": _("The ID number may contain only digits and a final X."),
        "id_number.region": _("The first six digits are not a known region code. Check the "
                              "number against your ID card."),
        "id_number.birth_date": _("The birth date inside the ID number is not a valid date. "
                                  "Check the number against your ID card."),
        "id_number.check_digit": _("The last character of the ID number does not match the "
                                   "others. Check the number against your ID card."),
        "id_number.format": _("The ID number is not in a known format."),
        "phone.invalid": _("Enter an 11-digit mainland mobile number, e.g. 13800138000."),
        "name.invalid": _("Enter your real name exactly as on your ID card."),
        "password.too_short": _("The password must be at least 8 characters."),
        "password.too_long": _("The password must be at most 128 characters."),
        "password.common": _("This password is too easy to guess. Choose another."),
        "password.personal": _("The password must not contain your ID number or phone number."),
        "mfa.failed": _("The code is not correct, or it was already used. Wait for the next "
                        "code in your authenticator app and try again."),
        "sms.failed": _("The code is not correct. Check the text message and try again."),
        "sms.exhausted": _("Too many wrong codes. Send a new code and try again."),
        "sms.expired": _("The code has expired or was already used. Send a new code."),
        "sms.unavailable": _("The text message could not be sent right now. Please try again "
                             "in a few minutes."),
        "face.failed": _("The face did not match the photo on record for your ID number. Try "
                         "again in good light, looking straight at the camera."),
        "face.unknown": _("This face verification has expired, was already used, or was not "
                          "started in this browser. Start it again."),
        "face.unavailable": _("The face verification service is unavailable right now. Please "
                              "try again in a few minutes."),
        "mfa.not_enrolled": _("No second factor is set up for this account."),
        "mfa.not_pending": _("There is no set-up waiting for confirmation. Start again."),
        "mfa.already_enrolled": _("An authenticator app is already set up for this account."),
    }
    return messages.get(code) or _("The request could not be completed. Check your input and "
                                   "try again.")
