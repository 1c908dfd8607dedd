"""A one-process OpenStack Swift for the tests: proxy (s3api + tempauth), account, container and
object servers, each a WSGI app on its own loopback port, served by eventlet green threads.

Run by Debian's ``/usr/bin/python3`` (the ``swift`` packages install there, not in the
project's virtualenv) as ``python3 -P swift_aio.py <conf_dir>``; ``tests/support/swift.py``
writes the configuration and starts it. It first builds the three rings with Swift's
``RingBuilder`` (the library ``swift-ring-builder`` is a front for: ``create 4 1 0``, ``add
r1z1-127.0.0.1:<port>/d1 100``, ``rebalance``, ``write_ring``), because nine runs of the
command cost 15 s on a loaded 2-core machine and one process a fraction of a second. Why one
process and not the four ``swift-*-server`` programs: those read ``swift.conf`` only from
``/etc/swift`` (no option moves it), and four interpreters take four times as long to start.
``set_swift_dir`` is Swift's own call for a non-default directory; the apps are Swift's, loaded
from their paste-deploy configurations exactly as the programs load them.
"""

from __future__ import annotations

import sys

import eventlet

eventlet.monkey_patch()

from eventlet import wsgi  # noqa: E402
from swift.common import utils  # noqa: E402
from swift.common.ring import RingBuilder  # noqa: E402
from swift.common.wsgi import loadapp  # noqa: E402

__all__ = ["main"]

SERVERS = ("account", "container", "object", "proxy")
PART_POWER = 4  # 16 partitions: the smallest ring that is still a ring


def main(conf_dir: str) -> None:
    utils.set_swift_dir(conf_dir)
    ports = {
        name: int(
            utils.readconf(f"{conf_dir}/{name}-server.conf", f"app:{name}-server")["bind_port"]
        )
        for name in SERVERS
    }
    for name in SERVERS[:3]:
        builder = RingBuilder(PART_POWER, 1, 0)
        builder.add_dev(
            {
                "id": 0,
                "region": 1,
                "zone": 1,
                "ip": "127.0.0.1",
                "port": ports[name],
                "device": "d1",
                "weight": 100,
            }
        )
        builder.rebalance()
        builder.save(f"{conf_dir}/{name}.builder")
        builder.get_ring().save(f"{conf_dir}/{name}.ring.gz")
    pool = eventlet.GreenPool()
    for name in SERVERS:
        conf = f"{conf_dir}/{name}-server.conf"
        app = loadapp(conf)
        port = ports[name]
        sock = eventlet.listen(("127.0.0.1", port))
        pool.spawn(wsgi.server, sock, app, log=_Quiet(), log_output=False)
    print("ready", flush=True)
    pool.waitall()


class _Quiet:
    def write(self, _data: str) -> None:
        pass


if __name__ == "__main__":
    main(sys.argv[1])
