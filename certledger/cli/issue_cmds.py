"""`certledger issue ...`: run the issuance pipeline, resume it after a crash, show a certificate's steps."""

from __future__ import annotations

from datetime import datetime

import click

from .main import cli


@cli.group("issue")
def issue_group() -> None:
    """Issue certificates approved for issuance (签发): encryption, layout, signature, seal, ledger."""


def _print_report(report, blockchain_enabled: bool) -> None:
    from issuance.pipeline.steps import label

    click.echo(f"effective {len(report.effective)}, failed {len(report.failed)}, "
               f"not in issuing {len(report.not_issuing)} ({report.seconds:.1f} s)")
    for ident, (step, error) in sorted(report.failed.items()):
        click.echo(f"failed {ident} at {step.value} ({label(step, blockchain_enabled)}): {error}", err=True)
    for ident in report.not_issuing:
        click.echo(f"skipped {ident}: not in status issuing", err=True)


@issue_group.command("run")
@click.argument("identifiers", nargs=-1)
@click.option("--type-id", type=int, default=None, help="Every certificate of this type waiting in issuing.")
@click.option("--all-approved", is_flag=True, help="Every certificate waiting in issuing (approved for issuance).")
@click.option("--chunk", default=500, show_default=True, type=click.IntRange(1, 10000),
              help="Certificates per transaction and per ledger batch.")
@click.option("--workers", default=None, type=click.IntRange(0, 256),
              help="Processes for layout and signing (default: one per core; 0: none).")
@click.pass_obj
def run(state, identifiers: tuple[str, ...], type_id: int | None, all_approved: bool, chunk: int,
        workers: int | None) -> None:
    """Issue the named certificates, or those of --type-id, or --all-approved; retries failed ones.

    Exit 1 if any certificate failed (each failure is printed with its step and error).
    """
    from sqlalchemy import select

    from issuance.models import Certificate
    from issuance.pipeline import issue, issuing_ids

    if not identifiers and type_id is None and not all_approved:
        raise click.UsageError("name certificates, or give --type-id N or --all-approved")
    platform = state.platform
    with platform.session_factory() as s:
        if identifiers:
            found = dict(s.execute(select(Certificate.identifier, Certificate.id)
                                   .where(Certificate.identifier.in_(identifiers))).all())
            missing = [i for i in identifiers if i not in found]
            if missing:
                raise click.UsageError(f"no certificate {', '.join(missing)}")
            ids = [found[i] for i in identifiers]
        else:
            ids = issuing_ids(s, type_id=type_id)
    report = issue(platform, ids, chunk_size=chunk, workers=workers)
    _print_report(report, platform.settings.blockchain.enabled)
    if report.failed or report.not_issuing:
        raise SystemExit(1)


@issue_group.command("resume")
@click.option("--workers", default=None, type=click.IntRange(0, 256))
@click.pass_obj
def resume_cmd(state, workers: int | None) -> None:
    """Carry on every certificate left in issuing by an interrupted run (failed ones wait for `issue run`)."""
    from issuance.pipeline import resume

    platform = state.platform
    report = resume(platform, workers=workers)
    _print_report(report, platform.settings.blockchain.enabled)
    if report.failed:
        raise SystemExit(1)


def _time(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z" if dt else "-"


@issue_group.command("status")
@click.argument("identifier")
@click.pass_obj
def status(state, identifier: str) -> None:
    """Each step of a certificate's issuance: status, start, end, attempts, error."""
    from sqlalchemy import select

    from issuance.models import Certificate
    from issuance.pipeline import progress
    from issuance.pipeline.steps import label

    platform = state.platform
    enabled = platform.settings.blockchain.enabled
    with platform.session_factory() as s:
        cert = s.execute(select(Certificate).where(Certificate.identifier == identifier)).scalar_one_or_none()
        if cert is None:
            raise click.UsageError(f"no certificate {identifier}")
        click.echo(f"{cert.identifier}  {cert.holder}  status: {cert.status.value}")
        for n, v in enumerate(progress(s, cert), start=1):
            line = (f"{n} {v.step.value:<9} {label(v.step, enabled)}  {v.status.value:<7}  "
                    f"{_time(v.started_at)} -> {_time(v.ended_at)}  attempts {v.attempts}")
            if v.detail:
                line += f"  {v.detail}"
            click.echo(line)
            if v.error:
                click.echo(f"    error: {v.error}")
