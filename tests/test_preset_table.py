"""Every (algo, env) preset resolves to exactly the recorded TrainConfig/HParams.

``tests/preset_table.json`` holds each resolved preset as its fields that differ
from the defaults (and the defaults themselves), written from the presets as they
were before they became typed values. A preset changes only on purpose: then
rewrite the table with ``python tests/test_preset_table.py`` and say why in the
commit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

if __name__ == "__main__":  # run as a script from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxpg.config import ALGOS, HParams, TrainConfig
from jaxpg.presets import ENV_PRESETS, preset

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "preset_table.json")
# Beside the named envs: one of each family and one env without any preset.
OTHER_ENVS = ("brax/some_env", "playground/SomeEnv", "Catch-bsuite")


def _plain(value) -> dict:
    """A TrainConfig/HParams as JSON values (tuples become lists)."""
    return json.loads(json.dumps({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}))


def _diff(value: dict, default: dict) -> dict:
    return {k: v for k, v in value.items() if v != default[k]}


def resolved_table() -> dict:
    defaults = {"config": _plain(TrainConfig()), "hparams": _plain(HParams())}
    table = {}
    for algo in ALGOS:
        for env in [*ENV_PRESETS, *OTHER_ENVS]:
            config, hparams = preset(algo, env)
            table[f"{algo} {env}"] = {"config": _diff(_plain(config), defaults["config"]),
                                      "hparams": _diff(_plain(hparams), defaults["hparams"])}  # fmt: skip
    return {"defaults": defaults, "presets": table}


def test_every_resolved_preset_is_as_recorded_field_by_field():
    with open(TABLE) as f:
        expected = json.load(f)
    defaults = expected["defaults"]
    names = {key.split(" ", 1)[1] for key in expected["presets"]}
    assert set(ENV_PRESETS) <= names, "a new env preset: add it to the table (see the docstring)"
    mismatches = []
    for key, want in expected["presets"].items():
        algo, env = key.split(" ", 1)
        config, hparams = preset(algo, env)
        assert isinstance(config, TrainConfig) and isinstance(hparams, HParams), key
        for part, got in (("config", _plain(config)), ("hparams", _plain(hparams))):
            full = {**defaults[part], **want[part]}
            assert set(got) == set(full), (key, part, set(got) ^ set(full))
            mismatches += [(key, f, got[f], full[f]) for f in full if got[f] != full[f]]
    assert mismatches == []


if __name__ == "__main__":
    table = resolved_table()
    lines = [f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in table["presets"].items()]
    with open(TABLE, "w") as f:  # one line per preset, so a change reads as a one-line diff
        f.write('{"defaults": ' + json.dumps(table["defaults"], sort_keys=True) + ',\n "presets": {\n')
        f.write(",\n".join(lines) + "\n}}\n")
    print(f"wrote {TABLE}")
