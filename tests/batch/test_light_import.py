"""``import msgflux`` loads none of the batch machinery, tqdm or Ray; a batch loads tqdm only
to draw a bar."""

from __future__ import annotations

import json
import subprocess
import sys

# Only what `import msgflux` adds counts: a coverage .pth may load modules at start-up.
CODE = """
import json, sys
before = set(sys.modules)
import msgflux
new = set(sys.modules) - before
first = sorted(m for m in new if m.split(".")[0] in ("tqdm", "ray", "pickle")
               or m.startswith(("msgflux.batch", "msgflux.integrations")))
import msgflux.batch, msgflux.integrations.ray
model = msgflux.Model.chat_completion("fake/echo")
model.batch(["quiet"], progress=False)
second = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("tqdm", "ray"))
print(json.dumps([first, second]))
"""


def test_import_msgflux_stays_light():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    at_import, after_a_quiet_batch = json.loads(out.stdout)

    assert at_import == []
    assert after_a_quiet_batch == []
