"""``python -m backbone_ops.stack.launch SPEC``: exec a stack process with its environment and secrets.

supervisord starts every backbone process through this launcher, so no password is written in supervisord's
config or on a command line (``ps`` shows those): the spec (0600) lists plain variables, and variables whose
value is read from a secret file at each start (what has no ``*_FILE`` setting: Dagster's ``DAGSTER_PG_PASSWORD``).
A restart after a rotation therefore picks up the new secret without any file but the secret changing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def resolve(secret_env: dict[str, str], secrets_dir: Path) -> dict[str, str]:
    """``{variable: secret file name}`` -> ``{variable: the file's content}``."""
    return {variable: (secrets_dir / name).read_text().strip() for variable, name in secret_env.items()}


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    # A value inherited from the caller must not shadow the secret file the spec names (VAR and VAR_FILE).
    inherited = {k: v for k, v in os.environ.items() if f"{k}_FILE" not in spec["env"]}
    env = {**inherited, **spec["env"], **resolve(spec["secret_env"], Path(spec["secrets_dir"]))}
    os.execvpe(spec["command"][0], spec["command"], env)


if __name__ == "__main__":
    main(sys.argv[1:])
