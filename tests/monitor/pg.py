#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A throwaway PostgreSQL cluster for the monitor's tests: postgres() makes one in a
temporary directory on a free loopback port (trust authentication, fsync off), creates
the database 'stratum', yields its URL and, on the way out (also on an exception), stops
the cluster by its postmaster and removes the directory. Standard library only.

Usage: with pg.postgres() as url: ...      Self-check: pg.py
"""
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile

DB_NAME = "stratum"
SUPERUSER = "postgres"


class PostgresNotFound(RuntimeError):
    pass


def find_bindir():
    """The newest /usr/lib/postgresql/N/bin holding initdb and pg_ctl."""
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and \
                os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            version = os.path.basename(os.path.dirname(d))
            try:
                found.append((float(version), d))
            except ValueError:
                continue
    if not found:
        raise PostgresNotFound(
            "PostgreSQL is not installed: no initdb and pg_ctl under /usr/lib/postgresql/*/bin"
            " (Debian: apt-get install postgresql)")
    return max(found)[1]


def free_port(addr="127.0.0.1"):
    # A TCP port free now; a race with another process taking it is possible but rare,
    # and pg_ctl start then fails loudly.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _as_postgres(argv):
    # initdb refuses to run as root: run the server tools as the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--"] + argv
    return argv


def _run(argv, what):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (what, r.returncode, r.stdout.strip()))
    return r.stdout


@contextlib.contextmanager
def postgres():
    """Yields 'postgresql://postgres@127.0.0.1:PORT/stratum' for a cluster that exists only
    inside the with block."""
    bindir = find_bindir()
    initdb = os.path.join(bindir, "initdb")
    pg_ctl = os.path.join(bindir, "pg_ctl")
    top = tempfile.mkdtemp(prefix="stratum-pg-")
    data = os.path.join(top, "data")
    log = os.path.join(top, "pg.log")
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(top, SUPERUSER, SUPERUSER)
        _run(_as_postgres([initdb, "-D", data, "-A", "trust", "-U", SUPERUSER, "--no-sync",
                           "-E", "UTF8", "--locale=C.UTF-8"]), "initdb")
        port = free_port()
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (port, top)
        _run(_as_postgres([pg_ctl, "-D", data, "-l", log, "-o", opts, "-w", "-t", "60",
                           "start"]), "pg_ctl start")
        started = True
        _run(_as_postgres([os.path.join(bindir, "createdb"), "-h", "127.0.0.1", "-p",
                           str(port), "-U", SUPERUSER, DB_NAME]), "createdb")
        yield "postgresql://%s@127.0.0.1:%d/%s" % (SUPERUSER, port, DB_NAME)
    finally:
        if started:
            r = subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                _kill_postmaster(data)
        shutil.rmtree(top, ignore_errors=True)


def _kill_postmaster(data):
    # pg_ctl stop failed: end our own postmaster (its PID is the first line of
    # postmaster.pid) with SIGQUIT, the immediate shutdown.
    try:
        with open(os.path.join(data, "postmaster.pid")) as f:
            pid = int(f.readline().strip())
        os.kill(pid, 3)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    with postgres() as url:
        print("started:", url)
        out = subprocess.run(["psql", "-Atc", "select 1", url], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout.strip()
        if out != "1":
            raise SystemExit("psql said %r, not 1" % out)
        print("select 1:", out)
    print("stopped")
