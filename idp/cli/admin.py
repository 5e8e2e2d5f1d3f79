"""Administrative commands: init, registry import, accounts, clients, audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from idp.accounts.services import Registration
from idp.audit.anchors import AnchorLog, MalformedAnchors
from idp.cli.output import CliError, emit, guarded, json_option, open_services, read_stdin_secret
from idp.clients import CHANNEL_NAMES, ClientRecord, NewClient
from idp.clock import as_aware
from idp.store import migrate


@click.command()
@json_option
@guarded
def init(as_json: bool) -> None:
    """Create or migrate the schema; create signing and identity keys if missing."""
    with open_services(create_keys=True) as svc:
        migrate.upgrade(svc.engine)
        imported = svc.keys.import_legacy_keys()  # PEM files of keys made before 0007
        created = svc.keys.ensure_keys()
        revision = migrate.current_revision(svc.engine)
    emit(as_json, {"revision": revision, "created_keys": created, "imported_keys": imported},
         f"schema at revision {revision}; created keys: {', '.join(created) or 'none'}"
         + (f"; sealed into the database: {', '.join(imported)}" if imported else ""))


@click.group()
def registry() -> None:
    """The local population registry."""


@registry.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@guarded
def registry_import(file: Path, as_json: bool) -> None:
    """Load FILE.csv (header: id_number,name) into the local registry; all or nothing."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CliError(f"file not found: {file}") from None
    except UnicodeDecodeError:
        raise CliError(f"{file} is not UTF-8 text") from None
    with open_services() as svc:
        count = svc.table_registry.import_csv(text)
    emit(as_json, {"imported": count}, f"imported {count} registry entries")


@click.group()
def accounts() -> None:
    """Citizens' accounts."""


@accounts.command("create")
@click.option("--id-number", required=True)
@click.option("--name", required=True)
@click.option("--phone", required=True)
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
@json_option
@guarded
def accounts_create(id_number: str, name: str, phone: str, password_stdin: bool,
                    as_json: bool) -> None:
    """Create a citizen account; the name must match the population registry."""
    password = read_stdin_secret()
    with open_services() as svc:
        account = svc.accounts.register(
            Registration(id_number=id_number, name=name, phone=phone, password=password),
            actor="cli")
    emit(as_json, {"sub": account.id, "id_number": account.id_number_masked,
                   "name": account.name},
         f"created account {account.id} for {account.id_number_masked}")


@click.group()
def clients() -> None:
    """Relying parties (OIDC clients)."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--channel", required=True,
              type=click.Choice(["website", "app", "miniprogram", "counter", "service"]))
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--frontchannel-logout-uri")
@click.option("--scope", "scopes", multiple=True,
              help="Allowed scope (repeat, or space-separated).")
@click.option("--skip-consent", is_flag=True, help="First-party portal: no consent page.")
@click.option("--id-token-alg", type=click.Choice(["RS256", "ES256"]),
              help="ID token signing algorithm (default: settings keys.id_token_alg).")
@click.option("--client-id", help="Choose the client_id (default: generated).")
@click.option("--subject-type", type=click.Choice(["public", "pairwise"]), default="public",
              show_default=True,
              help="sub released to this client: the account id, or a value per sector.")
@click.option("--sector-identifier-uri",
              help="Pairwise: a URI answering a JSON array of the client's redirect URIs; its "
                   "host is the sector (default: the redirect URIs' one host).")
@json_option
@guarded
def clients_create(name: str, channel: str, redirect_uris: tuple[str, ...],
                   post_logout: tuple[str, ...], backchannel_logout_uri: str | None,
                   frontchannel_logout_uri: str | None, scopes: tuple[str, ...],
                   skip_consent: bool, id_token_alg: str | None, client_id: str | None,
                   subject_type: str, sector_identifier_uri: str | None,
                   as_json: bool) -> None:
    """Register a client; prints client_id and, for confidential clients, client_secret."""
    scope_list = tuple(s for item in scopes for s in item.split())
    with open_services() as svc:
        record, secret = svc.clients.create(NewClient(
            name=name, channel=channel, redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout, backchannel_logout_uri=backchannel_logout_uri,
            frontchannel_logout_uri=frontchannel_logout_uri, scopes=scope_list,
            skip_consent=skip_consent, id_token_signed_response_alg=id_token_alg,
            client_id=client_id, subject_type=subject_type,
            sector_identifier_uri=sector_identifier_uri))
    data = {"client_id": record.client_id, "channel": record.channel,
            "client_type": record.client_type,
            "token_endpoint_auth_method": record.token_endpoint_auth_method,
            "redirect_uris": list(record.redirect_uris), "scopes": list(record.scopes),
            "subject_type": record.extra.get("subject_type", "public")}
    if "sector" in record.extra:
        data["sector"] = record.extra["sector"]
    if secret:
        data["client_secret"] = secret
    emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@clients.command("allow-id-card")
@click.argument("client_id")
@click.option("--revoke", is_flag=True, help="Stop allowing it.")
@json_option
@guarded
def clients_allow_id_card(client_id: str, revoke: bool, as_json: bool) -> None:
    """Allow CLIENT_ID to request the id_card scope (the citizen ID number in clear; each
    citizen must still consent), or stop allowing it with --revoke."""
    with open_services() as svc:
        record = svc.clients.set_id_card_allowed(client_id, not revoke)
    data = {"client_id": record.client_id, "id_card_allowed": not revoke}
    emit(as_json, data, f"{record.client_id}: id_card scope "
                        f"{'no longer allowed' if revoke else 'allowed'}")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--grace", type=click.IntRange(0, 30 * 86400), default=86400, show_default=True,
              help="Seconds the old secret keeps working (0: stops at once; at most 30 days).")
@json_option
@guarded
def clients_rotate_secret(client_id: str, grace: int, as_json: bool) -> None:
    """A new secret for CLIENT_ID, printed once; the old one works GRACE seconds more."""
    with open_services() as svc:
        record, secret = svc.clients.rotate_secret(client_id, grace=grace)
    emit(as_json, {"client_id": record.client_id, "client_secret": secret, "grace": grace},
         f"client_id: {record.client_id}\nclient_secret: {secret}\n"
         f"the old secret works for {grace} s more")


@clients.command("suspend")
@click.argument("client_id")
@click.option("--resume", is_flag=True, help="Make it active again.")
@json_option
@guarded
def clients_suspend(client_id: str, resume: bool, as_json: bool) -> None:
    """Suspend CLIENT_ID (no sign-ins or tokens, its tokens inactive) or --resume it."""
    with open_services() as svc:
        record = svc.clients.set_status(client_id, "active" if resume else "suspended")
    emit(as_json, {"client_id": record.client_id, "status": record.status},
         f"{record.client_id}: {record.status}")


@clients.command("allow-in-person")
@click.argument("client_id")
@click.option("--revoke", is_flag=True, help="Stop allowing it.")
@json_option
@guarded
def clients_allow_in_person(client_id: str, revoke: bool, as_json: bool) -> None:
    """Allow counter client CLIENT_ID to attest that its clerk checked the citizen's physical
    ID card (device sign-ins at assurance level L4), or stop allowing it with --revoke."""
    with open_services() as svc:
        record = svc.clients.set_in_person_allowed(client_id, not revoke)
    data = {"client_id": record.client_id, "in_person_check": not revoke}
    emit(as_json, data, f"{record.client_id}: in-person ID-card checks "
                        f"{'no longer allowed' if revoke else 'allowed'}")


def _staff(actor: str) -> str:
    from idp.cli.citizens import staff_actor  # citizens imports this module

    return staff_actor(actor)


_actor_option = click.option("--actor", default="staff", show_default=True,
                             help="Who does it (audited as staff:ACTOR).")


def _client_data(record: ClientRecord) -> dict[str, Any]:
    return {"client_id": record.client_id, "name": record.name, "channel": record.channel,
            "status": record.status, "redirect_uris": list(record.redirect_uris),
            "post_logout_redirect_uris": list(record.post_logout_redirect_uris),
            "scopes": list(record.scopes), "skip_consent": record.skip_consent,
            "id_card_allowed": bool(record.extra.get("id_card_allowed")),
            "in_person_check": bool(record.extra.get("in_person_check"))}


@clients.command("initial-token")
@click.option("--label", default="command line", show_default=True,
              help="Whom it is for (listed and audited; never secret).")
@click.option("--ttl", type=click.IntRange(60, 90 * 86400),
              help="Seconds it stays valid (default: [registration] initial_token_ttl).")
@click.option("--uses", type=click.IntRange(1, 100), default=1, show_default=True,
              help="How many clients it may register.")
@_actor_option
@json_option
@guarded
def clients_initial_token(label: str, ttl: int | None, uses: int, actor: str,
                          as_json: bool) -> None:
    """An initial access token for dynamic registration (RFC 7591), printed once: a department
    registers its client with it at <issuer>/register, and staff then approve the client."""
    who = _staff(actor)
    with open_services() as svc:
        token, row = svc.initial_tokens.issue(
            label=label, ttl=ttl or svc.settings.registration.initial_token_ttl,
            max_uses=uses, actor=who)
        endpoint = f"{svc.settings.issuer}/register"
    expires = as_aware(row.expires_at).isoformat(timespec="seconds")
    emit(as_json, {"token": token, "id": row.id, "label": row.label, "expires_at": expires,
                   "max_uses": row.max_uses, "registration_endpoint": endpoint},
         f"initial access token (shown once): {token}\n"
         f"id {row.id}, {uses} registration(s) at {endpoint} until {expires}")


@clients.command("list")
@click.option("--status", type=click.Choice(["pending", "active", "suspended"]),
              help="Only these (pending: registrations waiting for approval).")
@json_option
@guarded
def clients_list(status: str | None, as_json: bool) -> None:
    """Every client, oldest first."""
    with open_services() as svc:
        rows = [_client_data(r) for r in svc.clients.list(status=status)]
    emit(as_json, {"clients": rows},
         "\n".join(f"{r['client_id']}  {r['status']}  {r['channel']}  {r['name']}"
                   for r in rows) or "no clients")


@clients.command("approve")
@click.argument("client_id")
@_actor_option
@json_option
@guarded
def clients_approve(client_id: str, actor: str, as_json: bool) -> None:
    """Approve CLIENT_ID, a dynamic registration waiting for it: from now on it may sign
    citizens in and get tokens."""
    who = _staff(actor)
    with open_services() as svc:
        record = svc.clients.approve(client_id, actor=who)
    emit(as_json, _client_data(record), f"{record.client_id}: {record.status}")


@clients.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--redirect-uri", "redirect_uris", multiple=True,
              help="Replaces the redirect URIs (repeat for several).")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True,
              help="Replaces the post-logout redirect URIs (repeat for several).")
@click.option("--scope", "scopes", multiple=True,
              help="Replaces the allowed scopes (repeat, or space-separated).")
@click.option("--channel", type=click.Choice(CHANNEL_NAMES),
              help="Another channel of the same client type (public or confidential).")
@click.option("--skip-consent/--no-skip-consent", default=None,
              help="First-party portal: no consent page.")
@_actor_option
@json_option
@guarded
def clients_update(client_id: str, name: str | None, redirect_uris: tuple[str, ...],
                   post_logout: tuple[str, ...], scopes: tuple[str, ...], channel: str | None,
                   skip_consent: bool | None, actor: str, as_json: bool) -> None:
    """Change CLIENT_ID: each option given replaces that field, checked as at registration."""
    scope_list = tuple(s for item in scopes for s in item.split())
    if not (name or redirect_uris or post_logout or scope_list or channel) \
            and skip_consent is None:
        raise CliError("nothing to change: give at least one option (see --help)")
    who = _staff(actor)
    with open_services() as svc:
        record = svc.clients.update(
            client_id, actor=who, name=name, redirect_uris=redirect_uris or None,
            post_logout_redirect_uris=post_logout or None, scopes=scope_list or None,
            channel=channel, skip_consent=skip_consent)
    emit(as_json, _client_data(record), f"{record.client_id}: updated")


@clients.command("delete")
@click.argument("client_id")
@_actor_option
@json_option
@guarded
def clients_delete(client_id: str, actor: str, as_json: bool) -> None:
    """Delete CLIENT_ID: its tokens stop working at once; its consents and queued logouts go
    with it."""
    who = _staff(actor)
    with open_services() as svc:
        svc.clients.delete(client_id, actor=who)
    emit(as_json, {"client_id": client_id, "deleted": True}, f"{client_id}: deleted")


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--anchors", "anchor_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Anchor file to check against (default: [audit] anchor_file).")
@json_option
@guarded
def audit_verify(anchor_file: Path | None, as_json: bool) -> None:
    """Check the hash chain and the anchors; exit 1 and name the first broken entry when it
    was altered, removed, reordered or truncated."""
    with open_services() as svc:
        path = anchor_file or svc.settings.audit_anchor_path
        if anchor_file is not None and not anchor_file.exists():
            raise CliError(f"no anchor file at {anchor_file}")
        try:
            anchors = AnchorLog(path).read()
        except MalformedAnchors as exc:
            raise CliError(str(exc)) from None
        result = svc.audit.verify(anchors)
    data = {"ok": result.ok, "checked": result.checked, "head": result.head,
            "anchors": len(anchors), "broken_at": result.broken_at, "reason": result.reason}
    if result.ok:
        emit(as_json, data, f"audit trail intact: {result.checked} entries, head {result.head}, "
                            f"{len(anchors)} anchors matched")
        return
    emit(as_json, data, f"audit trail BROKEN at entry {result.broken_at}: {result.reason}")
    raise SystemExit(1)


@audit.command("anchor")
@json_option
@guarded
def audit_anchor(as_json: bool) -> None:
    """Write the chain's head to the anchor file and the log (run it from cron)."""
    with open_services() as svc:
        path = svc.settings.audit_anchor_path
        anchor = svc.audit.take_anchor(AnchorLog(path), actor="cli")
    emit(as_json, {"seq": anchor.seq, "hash": anchor.hash, "ts": anchor.ts, "file": str(path)},
         f"anchored entry {anchor.seq} ({anchor.hash}) in {path}")


@audit.command("export")
@click.option("--since", type=click.IntRange(min=0), default=0, show_default=True,
              help="Only entries after this sequence number.")
@click.option("--tag", default=None, help="Only tags starting with this (e.g. account:login).")
@guarded
def audit_export(since: int, tag: str | None) -> None:
    """Write the entries as JSON Lines to standard output, with their hashes."""
    with open_services() as svc:
        for entry in svc.audit.export(since=since, tag=tag):
            click.echo(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
