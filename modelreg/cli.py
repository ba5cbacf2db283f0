"""``modelreg``: the registry's command-line client for training and deployment pipelines.

Configured by ``MODELREG_URL`` and ``MODELREG_TOKEN`` (or ``--url`` / ``--token``). It talks to the
REST API only (``/api/v1/``), streams files in both directions with progress bars, sends an
``Idempotency-Key`` with every registration so a retried push never creates two versions, and verifies
the SHA-256 of every file it pulls before anything lands in the output directory.

Exit codes: 0 success, 1 the registry refused or a check failed, 2 bad usage, 3 the registry could not
be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from modelreg.client import CliError, Registry
from modelreg.commands import (
    cmd_approve,
    cmd_deployed,
    cmd_history,
    cmd_ls,
    cmd_pull,
    cmd_push,
    cmd_reject,
    cmd_request,
    cmd_rollback,
)

DEFAULT_URL = "http://127.0.0.1:8000"


def iso_time(text: str) -> str:
    """An ``--at`` value: checked here so a typo is a usage error (exit 2), sent to the registry as given."""
    try:
        # Python 3.11's fromisoformat reads the ISO 8601 forms the registry does, "Z" included.
        datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (for example 2024-06-01T12:00:00Z)"
        ) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="Registry URL (env MODELREG_URL).")
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token (env MODELREG_TOKEN).")
    common.add_argument(
        "--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="No progress bars."
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="Print JSON (ls, history)."
    )

    parser = argparse.ArgumentParser(
        prog="modelreg", description="Command-line client of the model registry.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("push", parents=[common], help="Register a new version from files or directories.")
    p.add_argument("model")
    p.add_argument("paths", nargs="+", metavar="file-or-dir")
    p.add_argument("--metrics", metavar="FILE", help="JSON object of metric name -> number.")
    p.add_argument("--params", metavar="FILE", help="JSON object of parameters.")
    p.add_argument("--metric", action="append", metavar="K=V", help="One metric (repeatable).")
    p.add_argument("--param", action="append", metavar="K=V", help="One parameter (repeatable; JSON values).")
    p.add_argument(
        "--dataset", action="append", metavar="URI[@VERSION]", help="A training dataset (repeatable)."
    )
    p.add_argument("--tag", action="append", metavar="K=V", help="A tag (repeatable).")
    p.add_argument("--parent", type=int, metavar="N", help="The version this one was trained from.")
    p.add_argument("--description")
    p.add_argument("--run-url", help="Link to the experiment run.")
    p.add_argument("--stage", choices=["staging"], help="Move the new version to this stage.")
    p.add_argument(
        "--idempotency-key", help="Reuse across retries of one CI job (default: a new key per run)."
    )
    p.add_argument(
        "--no-git", action="store_true", help="Do not record the git source of the working directory."
    )
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("pull", parents=[common], help="Download and verify a version's files.")
    p.add_argument(
        "target", metavar="model[:ref]", help="ref: number, latest, production, staging or @alias."
    )
    p.add_argument("-o", "--output", required=True, help="Output directory.")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser(
        "request",
        parents=[common],
        help="Request a promotion, a retirement (--to archived) or a protected alias (--to @alias).",
    )
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("--to", default="production")
    p.add_argument("--comment")
    p.set_defaults(func=cmd_request)

    for name, func, text in (("approve", cmd_approve, "Approve"), ("reject", cmd_reject, "Reject")):
        p = sub.add_parser(name, parents=[common], help=f"{text} a transition request.")
        p.add_argument("request_id", type=int, metavar="request-id")
        p.add_argument("--comment")
        p.set_defaults(func=func)

    p = sub.add_parser("rollback", parents=[common], help="Return a former Production version to Production.")
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("ls", parents=[common], help="List models, or a model's versions.")
    p.add_argument("model", nargs="?")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("history", parents=[common], help="A model's audit trail, or its stages at a moment.")
    p.add_argument("model")
    p.add_argument(
        "--at", type=iso_time, metavar="TIME", help="ISO time: which version held each stage and alias then."
    )
    p.add_argument("--limit", type=int, default=200, help="At most this many ledger rows.")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("deployed", parents=[common], help="Report what the CD pipeline did with a version.")
    p.add_argument("model")
    p.add_argument("version", help="Number or reference.")
    p.add_argument("--env", required=True, help="Environment, e.g. prod-eu.")
    p.add_argument("--status", required=True, choices=["started", "succeeded", "failed"])
    p.add_argument("--deployment-url", help="Where the deployment answers.")
    p.set_defaults(func=cmd_deployed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = getattr(args, "url", None) or os.environ.get("MODELREG_URL") or DEFAULT_URL
    token = getattr(args, "token", None) or os.environ.get("MODELREG_TOKEN")
    args.quiet = getattr(args, "quiet", False)
    args.json = getattr(args, "json", False)
    reg = Registry(url, token)
    try:
        return args.func(reg, args)
    except CliError as exc:
        print(f"modelreg: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("modelreg: interrupted.", file=sys.stderr)
        return 130
    finally:
        reg.close()


if __name__ == "__main__":
    sys.exit(main())
