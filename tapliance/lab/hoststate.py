"""What the Vagrant lab may change on its host, recorded before and put back after: the nftables ruleset,
the root namespace's links and the network sysctls.

libvirt's network driver runs iptables (nft backend) and so creates the tables ``ip``/``ip6`` ``filter``,
``nat`` and ``mangle`` with base chains hooked into the host's netfilter, then its ``LIBVIRT_*`` chains in
them, and switches ``net.ipv4.ip_forward`` on. Removing only the chains leaves six empty tables whose
hooks every later packet on the host passes. So scripts/vagrant-lab saves a snapshot before it starts
libvirtd and, at ``down``, removes the libvirt chains, deletes every table that was not there before and
is now empty of rules, and writes back every network sysctl that changed. tests/vagrant compares the
snapshots before and after a whole run.

    python -m tapliance.lab.hoststate save FILE | restore FILE | diff FILE
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PROC_SYS = Path("/proc/sys/net")
# the global network sysctls (per-interface ones come and go with their links, which are compared anyway)
SYSCTL_DIRS = ("ipv4", "ipv6/conf/all", "ipv6/conf/default", "ipv4/conf/all", "ipv4/conf/default", "bridge")
VOLATILE = re.compile(r"(count|_max_dgram_qlen|random|seq)")  # counters, not settings
# what other tests on a shared machine make and remove in the root namespace while a lab runs
FOREIGN_LINK = re.compile(r"^(t[a-z]{1,2}[0-9a-f]{4}|tlab-)")


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def ruleset() -> dict[str, list[str]]:
    """{"family name": [its chains and rules, counters left out]} of every nftables table."""
    data = json.loads(_run("nft", "-j", "list", "ruleset") or '{"nftables": []}')["nftables"]
    tables: dict[str, list[str]] = {}
    for item in data:
        if "table" in item:
            tables[f"{item['table']['family']} {item['table']['name']}"] = []
        for kind in ("chain", "rule"):
            if kind in item:
                obj = dict(item[kind])
                obj.pop("handle", None)
                if kind == "rule":
                    obj["expr"] = [e for e in obj.get("expr", []) if "counter" not in e]
                tables[f"{obj['family']} {obj['table']}"].append(f"{kind} {json.dumps(obj, sort_keys=True)}")
    return tables


def links() -> list[str]:
    names = [ln.split(":")[1].strip().split("@")[0] for ln in _run("ip", "-o", "link", "show").splitlines()]
    return sorted(n for n in names if not FOREIGN_LINK.match(n))


def sysctls() -> dict[str, str]:
    out = {}
    for d in SYSCTL_DIRS:
        base = PROC_SYS / d
        for f in sorted(base.glob("*") if d.count("/") else base.rglob("*")):
            rel = str(f.relative_to(PROC_SYS))
            if f.is_dir() or VOLATILE.search(rel) or (d == "ipv4" and rel.startswith(("ipv4/conf/", "ipv4/neigh/"))):
                continue
            try:
                out[rel] = " ".join(f.read_text().split())
            except OSError:
                continue  # write-only (route/flush) or gone
    return out


def snapshot() -> dict[str, object]:
    return {"ruleset": ruleset(), "links": links(), "sysctls": sysctls()}


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """One line per difference; empty when the host is as it was."""
    out = []
    rb, ra = before["ruleset"], after["ruleset"]
    assert isinstance(rb, dict) and isinstance(ra, dict)
    out += [f"nft table {t}: created" for t in sorted(set(ra) - set(rb))]
    out += [f"nft table {t}: deleted" for t in sorted(set(rb) - set(ra))]
    out += [f"nft table {t}: changed" for t in sorted(set(ra) & set(rb)) if ra[t] != rb[t]]
    lb, la = before["links"], after["links"]
    assert isinstance(lb, list) and isinstance(la, list)
    out += [f"link {n}: created" for n in sorted(set(la) - set(lb))]
    out += [f"link {n}: deleted" for n in sorted(set(lb) - set(la))]
    sb, sa = before["sysctls"], after["sysctls"]
    assert isinstance(sb, dict) and isinstance(sa, dict)
    out += [
        f"sysctl net/{k}: {sb.get(k)!r} -> {sa.get(k)!r}" for k in sorted(set(sb) | set(sa)) if sb.get(k) != sa.get(k)
    ]
    return out


def remove_libvirt_chains() -> list[str]:
    """Delete libvirt's LIBVIRT_* chains and the jumps to them, in every table of the ip and ip6 families."""
    removed = []
    for table in ruleset():
        family, name = table.split()
        if family not in ("ip", "ip6"):
            continue
        data = json.loads(_run("nft", "-j", "list", "table", family, name) or '{"nftables": []}')["nftables"]
        for item in data:
            rule = item.get("rule")
            if rule and any(e.get("jump", {}).get("target", "").startswith("LIBVIRT_") for e in _verdicts(rule)):
                _run("nft", "delete", "rule", family, name, rule["chain"], "handle", str(rule["handle"]))
        for item in data:
            chain = item.get("chain", {}).get("name", "")
            if chain.startswith("LIBVIRT_"):
                _run("nft", "flush", "chain", family, name, chain)
                _run("nft", "delete", "chain", family, name, chain)
                removed.append(f"{family} {name} {chain}")
    return removed


def _verdicts(rule: dict[str, list[dict[str, dict[str, str]]]]) -> list[dict[str, dict[str, str]]]:
    return [e for e in rule.get("expr", []) if "jump" in e or "goto" in e]


def restore(before: dict[str, object]) -> list[str]:
    """Put back what the lab changed since ``before``; return what was done."""
    done = [f"chain {c}" for c in remove_libvirt_chains()]
    old = before["ruleset"]
    assert isinstance(old, dict)
    for table, content in ruleset().items():
        if table not in old and not any(c.startswith("rule ") for c in content):
            _run("nft", "delete", "table", *table.split())
            done.append(f"table {table}")
    sb = before["sysctls"]
    assert isinstance(sb, dict)
    for key, value in sysctls().items():
        if key in sb and sb[key] != value:
            try:
                (PROC_SYS / key).write_text(sb[key] + "\n")
                done.append(f"sysctl net/{key}={sb[key]}")
            except OSError as e:
                done.append(f"sysctl net/{key}: could not restore ({e})")
    return done


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("save", "restore", "diff"):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    path = Path(argv[1])
    if argv[0] == "save":
        path.write_text(json.dumps(snapshot(), indent=1) + "\n")
        return 0
    before = json.loads(path.read_text())
    if argv[0] == "restore":
        for line in restore(before):
            print(f"restored {line}")
        return 0
    diff = differences(before, snapshot())
    print("\n".join(diff) or "host as before")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
