#!/usr/bin/python
"""Ansible module: make sure a tapliance private key exists on the host; report its public key."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tapliance_key
short_description: Generate a tapliance X25519 private key on the managed host and return its public key
description:
  - Creates the private key file with C(tapliance genkey -o PATH) (a new 0600 file) when it does not exist,
    and writes the public key next to it. An existing key is never replaced.
  - The private key never leaves the host; only the public key is returned.
  - Supports check mode (reports what it would create) and diff mode.
options:
  path:
    description: Private key file.
    type: path
    required: true
  public_path:
    description: File to write the public key to (mode 0644).
    type: path
    required: true
  tapliance:
    description: Path of the tapliance command.
    type: path
    required: true
author: tapliance maintainers
"""

EXAMPLES = r"""
- name: Make sure the host has a key
  tapliance_key:
    path: /etc/tapliance/host.key
    public_path: /etc/tapliance/host.pub
    tapliance: /opt/tapliance/venv/bin/tapliance
  register: key
  no_log: true
"""

RETURN = r"""
public_key:
  description: Base64 public key; empty in check mode when the key does not exist yet.
  type: str
  returned: always
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "public_path": {"type": "path", "required": True},
            "tapliance": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    path, pub_path, exe = module.params["path"], module.params["public_path"], module.params["tapliance"]
    changed = False
    diff = {"before": "", "after": "", "before_header": path, "after_header": path}
    if os.path.exists(path):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            module.fail_json(msg=f"{path}: mode {mode:04o} is too open (tapliance requires 0600); fix or remove it")
        diff["before"] = diff["after"] = "private key present\n"
    else:
        changed = True
        diff["after"] = "private key generated on the host\n"
        if module.check_mode:
            module.exit_json(changed=True, public_key="", diff=diff)
        rc, _out, err = module.run_command([exe, "genkey", "-o", path])
        if rc != 0:
            module.fail_json(msg=f"tapliance genkey -o {path} failed: {err.strip()}")
    with open(path, "rb") as f:
        rc, out, err = module.run_command([exe, "pubkey"], data=f.read(), binary_data=True)
    if rc != 0:
        module.fail_json(msg=f"tapliance pubkey < {path} failed: {err.strip()}")
    public = out.strip()
    old_pub = ""
    if os.path.exists(pub_path):
        with open(pub_path) as f:
            old_pub = f.read().strip()
    if old_pub != public:
        changed = True
        diff["before"] += f"public key {old_pub or '(none)'}\n"
        diff["after"] += f"public key {public}\n"
        if not module.check_mode:
            tmp = pub_path + ".tmp"
            with open(tmp, "w") as f:
                f.write(public + "\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, pub_path)
    module.exit_json(changed=changed, public_key=public, diff=diff)


if __name__ == "__main__":
    main()
