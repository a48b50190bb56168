"""Write the example notebooks from the Python source below, execute them, save their outputs.

    .venv/bin/python notebooks/build.py            # every notebook
    .venv/bin/python notebooks/build.py 03 app     # only those whose file name starts so

The notebooks are tests: ``make test`` re-executes each one with nbval and compares every output
with the one saved here. After changing a notebook (edit it HERE, not in JupyterLab) or cmnb
itself, run this script and commit the regenerated ``.ipynb`` files with the code change.

Outputs are deterministic: every notebook talks to a seeded sandbox, so uuids and timestamps are
the same on every run; only the sandbox's port changes (``sanitize.cfg`` hides it from nbval).
The kernel runs with no ``CHARTMOGUL_API_KEY``/``CHARTMOGUL_BASE_URL``, in this directory.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

Cell = tuple[str, str]  # ("md" | "code", source)


def md(text: str) -> Cell:
    return ("md", text.strip("\n"))


def code(text: str) -> Cell:
    return ("code", text.strip("\n"))


SANDBOX_VS_LIVE = """
### SANDBOX or LIVE?

cmnb talks either to the **embedded sandbox** — a local emulator of ChartMogul's Data Sources
API running inside this kernel, on `127.0.0.1` — or to your real ChartMogul account (**LIVE**).
The client's `repr` and the form's first line always say which.
"""

NOTEBOOK_01: list[Cell] = [
    md("""
# Create a data source

A **data source** is where ChartMogul keeps the customers, plans and invoices you import: one
for each billing system (*In-house billing*, *Billing EU*, …). This notebook creates one from
code, then with a form, and shows where the result lands: a pandas DataFrame.

It runs as it is, with no account and no API key: everything here talks to the **embedded
sandbox**, a faithful local copy of ChartMogul's Data Sources API. Nothing leaves this machine.
"""),
    md("""
## 1. Connect

`cmnb.connect()` gives you a client. With an API key configured it talks to ChartMogul (LIVE);
without one it starts the embedded sandbox and says so on stderr. Here we *ask* for the sandbox
(`sandbox=True`), whatever is configured, and give it a `seed` so that every run of this notebook
produces the same uuids and timestamps.
"""),
    code("""
import cmnb

client = cmnb.connect(sandbox=True, seed=2026)
client
"""),
    md("""
`mode=SANDBOX`: the base URL is on this machine. The port changes from run to run; nothing else
does.

## 2. Create a data source

This is the example from ChartMogul's documentation, *Create a Source*. The name is checked
before anything is sent (surrounding spaces are removed); the answer is a `cmnb.DataSource`.
"""),
    code("""
ds = client.data_sources.create("In-house billing")
ds
"""),
    md("""
Its fields are plain Python values: `uuid` (the `ds_…` id every later call uses), `name`,
`system` (always `Custom` for sources made through the API), `status` and `created_at`, an aware
UTC `datetime`.
"""),
    code("""
print("uuid:      ", ds.uuid)
print("name:      ", ds.name)
print("system:    ", ds.system)
print("status:    ", ds.status)
print("created_at:", repr(ds.created_at))
"""),
    md("""
`to_dict()` gives the JSON object exactly as the API sends it:
"""),
    code("""
ds.to_dict()
"""),
    md("""
Names are unique in an account: creating *In-house billing* again raises
`cmnb.DuplicateNameError`, which carries the source that holds the name. When you simply need
the source to exist, use `ensure`: it returns the existing one, or creates it.
"""),
    code("""
same = client.data_sources.ensure("In-house billing")
same.uuid == ds.uuid
"""),
    md("""
## 3. The form

The same thing without writing code: type a name, press **Create** (or Enter). The form
validates the name on every keystroke (the button stays grey while the name cannot be sent),
shows the outcome of each click on one status line, never a traceback, and lists what you
created below, newest first.

When you run this notebook yourself, the form appears under the next cell. (A notebook viewer
that does not run Python shows the form's plain-text stand-in, `DataSourceForm(mode=SANDBOX)`.)
"""),
    code("""
form = cmnb.DataSourceForm(client)
form
"""),
    md("""
The **API key** field and the **Go LIVE** button appear only in the sandbox with no key
configured: paste a key there to switch this form to your real account. The field is emptied the
moment the key is read, so the key is never saved with the notebook.

Clicking can also be done from code. This is exactly what typing *Billing EU* and pressing
**Create** does (the form above updates, if you are running the notebook):
"""),
    code("""
form.name_input.value = "Billing EU"
form.create_button.click()

from IPython.display import HTML

HTML(form.status.value)
"""),
    md("""
Clicking **Create** on a name that is already in the account shows why it was refused — and
how to reuse the existing source instead:
"""),
    code("""
form.name_input.value = "In-house billing"
form.create_button.click()
HTML(form.status.value)
"""),
    md("""
The name stays in the field. Tick **If it exists, reuse it** and press **Create** again: the
form now finds the source that holds the name (`get_or_create`) instead of failing, and adds
it to its table. Nothing new is created.
"""),
    code("""
form.reuse_checkbox.value = True
form.create_button.click()
HTML(form.status.value)
"""),
    md("""
## 4. The table: everything created, as a DataFrame

`form.table` collects every source created (or reused) through the form. On its own in a cell
it shows the table you see under the form: newest first (by `created_at`), at most 20 rows,
with a *showing 20 of N* note when there are more.
"""),
    code("""
form.table
"""),
    md("""
`form.table.df` is a fresh pandas DataFrame of the same sources, in the order they came into
the table, with the columns `uuid, name, system, created_at, status`:
"""),
    code("""
form.table.df
"""),
    code("""
form.table.df.dtypes
"""),
    md(
        SANDBOX_VS_LIVE
        + """
To work on your real account, get an API key in ChartMogul (**Profile → API keys**), then give it
to cmnb in one of these ways — never paste it into a cell you save:

| where | how |
|---|---|
| the environment | `export CHARTMOGUL_API_KEY=...` before `make lab` / `jupyter lab` |
| a `.env` file | a line `CHARTMOGUL_API_KEY=...` in the notebook's directory (keep it out of git) |
| the form | paste it into **API key** and press **Go LIVE** |

Then replace the connect cell with

```python
client = cmnb.connect()      # LIVE: uses the configured key
client                       # Client(base_url='https://api.chartmogul.com/v1', mode=LIVE)
```

Everything else in this notebook stays the same. `cmnb.connect(sandbox=False)` refuses to fall
back to the sandbox when no key is found.

**Next:** `02-bulk-setup` (many sources at once), `03-errors-and-recovery` (what goes wrong and
what you see), `04-manage-sources` (list, retrieve, delete, rebuild the table).
"""
    ),
]

NOTEBOOK_02: list[Cell] = [
    md("""
# Set up many data sources at once

Setting up an account usually means one data source per billing system, region or brand. This
notebook creates them from a Python list and from a CSV file, in a way that is **safe to run
again**: sources that already exist are reported as `existing`, never created twice.

Everything runs against the embedded sandbox (no key needed; see `01-create-a-source` to go LIVE).
"""),
    code("""
import tempfile
from pathlib import Path

import pandas as pd

import cmnb

client = cmnb.connect(sandbox=True, seed=2026)
client
"""),
    md("""
## 1. One at a time: `ensure`

`client.data_sources.ensure(name)` returns the source with exactly that name, creating it only
if it is missing. `get_or_create` does the same and also tells you whether it was created now.
"""),
    code("""
eu = client.data_sources.ensure("Billing EU")
again, created = client.data_sources.get_or_create("Billing EU")
print(eu.uuid)
print(again.uuid, "created now:", created)
"""),
    md("""
## 2. From a list: `create_many`

`client.data_sources.create_many(names)` validates every name first, looks the account up once,
and creates only the missing names, in parallel and at ChartMogul's rate limit (40 requests per
second). It never raises for a single bad name: each name gets exactly one **outcome** —
`created`, `existing` or `failed` (with the reason).

(`concurrency=1` here only so that this saved notebook gets the same uuids on every run; leave
the default, 8, for real work.)
"""),
    code("""
names = [
    "Billing US",
    "Billing EU",          # made above: existing
    "  Billing APAC  ",    # surrounding spaces are removed
    "",                    # refused before sending
    "Billing US",          # the same name twice in one input: sent once
]
result = client.data_sources.create_many(names, concurrency=1)
result
"""),
    md("""
The result is one row per input name, in input order. `result.to_frame()` is a DataFrame you can
filter, join or save:
"""),
    code("""
frame = result.to_frame()
frame
"""),
    code("""
print(result.summary())
print("created:", [o.name for o in result.created])
print("failed: ", [(o.name, str(o.error)) for o in result.failed])
"""),
    md("""
## 3. From a CSV file (or any DataFrame column)

`data/new-sources.csv` lists sources with a region. Any column of names works: a list, a
pandas Series, a generator. With `progress="auto"` a progress bar is shown while it runs.
"""),
    code("""
print(Path("data/new-sources.csv").read_text())
"""),
    code("""
wanted = pd.read_csv("data/new-sources.csv")
result = client.data_sources.create_many(wanted["name"], concurrency=1, progress="auto")
result
"""),
    md("""
Run the same cell again and nothing is created: every name is now `existing`. That is what makes
a setup notebook safe to re-run after a failure half-way through.
"""),
    code("""
rerun = client.data_sources.create_many(wanted["name"], concurrency=1)
rerun.counts
"""),
    md("""
## 4. Join and export

The outcome frame joins back onto your own data by name, e.g. to keep the new uuids next to
the regions:
"""),
    code("""
setup = wanted.merge(result.to_frame()[["name", "outcome", "uuid"]], on="name")
setup
"""),
    code("""
out_dir = Path(tempfile.mkdtemp())
setup.to_csv(out_dir / "data-sources.csv", index=False)
print((out_dir / "data-sources.csv").read_text())
"""),
    md("""
To export every source in the account (not only this run's), build a table from the API:
`cmnb.DataSourceTable.from_api(client).to_csv("all-sources.csv")` (see `04-manage-sources`).

**With a real account:** the same code, with `client = cmnb.connect()`. `create_many` keeps to
the 40 requests/second limit and at most 20 connections, slows down by itself if ChartMogul
answers 429, and never creates a name twice, even when an answer is lost on the way back.
"""),
]

NOTEBOOK_03: list[Cell] = [
    md("""
# Errors and recovery: what can go wrong, and what you see

Every error cmnb raises is a `cmnb.CmnbError`, with a message that says what happened, what the
server said and what to do. This notebook provokes each one on purpose against a sandbox that
fails when told to (**faults**), and shows the clean error — or the silent recovery — you get.

```
CmnbError
├── InputError          refused before sending (nothing was sent)
├── TransportError      no answer: network down, timeout
└── APIError            the server said no: .status, .message
    ├── AuthenticationError    401 wrong key
    ├── DuplicateNameError     422 name taken (.existing)
    ├── RateLimitError         429 too fast (.retry_after_s)
    └── ServerError            5xx
```

Here we start a sandbox of our own (instead of `cmnb.connect()`), because we need its controls:
its fault script `sb.faults` and its log of received requests `sb.requests`.
"""),
    code("""
import cmnb

sb = cmnb.Sandbox(seed=2026).start()
client = sb.client()
client
"""),
    md("""
A helper to show an error the way you would handle it in your own code: catch `cmnb.CmnbError`
and print its class and message.
"""),
    code("""
def show(call):
    try:
        result = call()
    except cmnb.CmnbError as err:
        print(f"{type(err).__name__}: {err}")
        return err
    print("OK:", result)
    return result
"""),
    md("""
## 1. Bad names: refused before anything is sent

An empty or blank name, a control character or a value that is not text raises
`cmnb.InputError` at once. The sandbox's request log proves nothing reached the server.
"""),
    code("""
for bad_name in ["", "   ", "Billing\\tEU", 42]:
    show(lambda: client.data_sources.create(bad_name))

print("requests received by the server:", len(sb.requests))
"""),
    md("""
## 2. A duplicate name

Names are unique per account. A second `create` with the same name raises
`cmnb.DuplicateNameError`; its `.existing` is the source that already holds the name, so you can
carry on with it. (`ensure(name)` does that for you.)
"""),
    code("""
first = client.data_sources.create("In-house billing")
err = show(lambda: client.data_sources.create("In-house billing"))
print()
print("existing:", err.existing.uuid, "same as the first:", err.existing.uuid == first.uuid)
"""),
    md("""
## 3. A wrong API key

A key that ChartMogul does not accept gives `cmnb.AuthenticationError` (HTTP 401). It is never
retried, and the key itself appears in no message, log line or `repr`. `client.ping()` checks a
key without changing anything.
"""),
    code("""
wrong = cmnb.Client(api_key="not-the-right-key", base_url=sb.url)
err = show(wrong.ping)
print("status:", err.status)
"""),
    md("""
## 4. Too fast: 429 and `Retry-After`

ChartMogul allows 40 requests per second. The client paces itself to stay under that, and when
the server still answers **429 with a `Retry-After` header**, it waits exactly that long and
tries again. Here the sandbox refuses the next create once, asking for a one-second pause:
"""),
    code("""
sb.faults.add("create", status=429, retry_after=1)
show(lambda: client.data_sources.create("Billing EU"))

for r in sb.requests[-2:]:
    print(r.method, r.path, r.status, r.fault or "")
"""),
    md("""
If the server asks for a longer wait than the call has left (its deadline, 60 s by default),
the client does not sleep in vain: it raises `cmnb.RateLimitError` at once, and
`.retry_after_s` says how long to wait before trying again.
"""),
    code("""
sb.faults.add("create", status=429, retry_after=120)
err = show(lambda: client.data_sources.create("Billing US"))
print("retry after:", err.retry_after_s, "s")
"""),
    md("""
## 5. The server failed *after* creating: no duplicate

The dangerous case: the server creates the source, then its answer is lost (a 500, or a
connection reset). Retrying blindly would create it twice. cmnb retries, meets
*"Has already been taken"*, looks the name up and returns the source its first attempt created.
"""),
    code("""
sb.faults.add("create", status=500, after_commit=True)
recovered = show(lambda: client.data_sources.create("Retried safely"))
"""),
    md("""
What happened on the wire, from the sandbox's log: the 500 (after the source was made), the
retry answered 422 (name taken), the lookup. And the account holds exactly **one** such source:
"""),
    code("""
for r in sb.requests[-3:]:
    print(r.method, r.path, r.status, r.fault or "")

matches = client.data_sources.list(name="Retried safely")
print(len(matches), "source named 'Retried safely':", matches[0].uuid == recovered.uuid)
"""),
    md("""
The same when the connection is reset after the server acted (status `None`: no answer at all):
"""),
    code("""
sb.faults.add("create", reset=True, after_commit=True)
show(lambda: client.data_sources.create("Reset safely"))
for r in sb.requests[-3:]:
    print(r.method, r.path, r.status, r.fault or "")
print(len(client.data_sources.list(name="Reset safely")), "source named 'Reset safely'")
"""),
    md("""
## 6. A server error that does not go away

When every attempt fails, you get `cmnb.ServerError` with the server's own words (here a 502
whose body is an HTML page, shown by its title). This client makes one attempt only, to keep the
notebook quick; the default is 4, with growing pauses in between.
"""),
    code("""
sb.faults.add("list", status=502)
impatient = sb.client(max_attempts=1)
err = show(impatient.data_sources.list)
print("status:", err.status, "| the server's words:", err.message)
"""),
    md("""
## 7. Dry run: see the request without sending it

`create(name, dry_run=True)` returns the request that *would* be sent. The `Authorization`
header is shown redacted. Nothing reaches the server:
"""),
    code("""
before = len(sb.requests)
plan = client.data_sources.create("Billing APAC", dry_run=True)
print(plan.method, plan.url)
print("body:         ", plan.json)
print("Authorization:", plan.headers["Authorization"])
print("requests sent:", len(sb.requests) - before)
"""),
    md("""
## 8. In the form

The form catches every one of these errors and shows a single line instead of a traceback, e.g.
`✖ A data source named “In-house billing” already exists (ds_…). Tick “If it exists, reuse it”
to use it.` — see the README's form section for the full list.

The faults used here are available to you for your own experiments: `sb.faults.add("create",
status=500, after_commit=True, times=2)`, `sb.faults.add("list", delay_s=60)`, … (README,
*Faults on purpose*). Stop the sandbox when done:
"""),
    code("""
sb.stop()
"""),
]

NOTEBOOK_04: list[Cell] = [
    md("""
# Manage data sources: list, retrieve, delete, rebuild

This notebook works on an account that already holds a few sources: one from a Stripe
integration and some custom ones. It lists them with filters and optional detail blocks,
retrieves and deletes one, and finally rebuilds the table after a (simulated) kernel restart.

The sandbox here keeps its state in a file, like a real account keeps it on ChartMogul's
servers, so that the "restart" at the end loses only what was in memory.
"""),
    code("""
import shutil
import tempfile
from pathlib import Path

import cmnb

workdir = Path(tempfile.mkdtemp())
state_file = workdir / "sandbox.json"

sb = cmnb.Sandbox(
    seed=2026,
    path=state_file,
    sources=[{"name": "Stripe", "system": "Stripe"}],  # as if Stripe were connected
).start()
client = sb.client()

for name in ["In-house billing", "Billing EU", "Billing US"]:
    client.data_sources.ensure(name)
"""),
    md("""
## 1. List

`client.data_sources.list()` returns every source as a list of `cmnb.DataSource`. A
`cmnb.DataSourceTable` turns any such list into a DataFrame (`.df`):
"""),
    code("""
sources = client.data_sources.list()
cmnb.DataSourceTable(sources).df
"""),
    md("""
Filters are exact matches done by the server: `system=` (e.g. `"Stripe"`, `"Custom"`) and
`name=`.
"""),
    code("""
print([ds.name for ds in client.data_sources.list(system="Stripe")])
print([ds.name for ds in client.data_sources.list(system="Custom")])
print([ds.uuid for ds in client.data_sources.list(name="Billing EU")])
"""),
    md("""
## 2. More detail: the `with_*` blocks

Three optional blocks are sent only when asked for:

| flag | block |
|---|---|
| `with_processing_status=True` | how many imported objects are processed, pending, failed |
| `with_auto_churn_subscription_setting=True` | whether subscriptions churn automatically |
| `with_invoice_handling_setting=True` | when invoices create or update subscriptions |
"""),
    code("""
(stripe,) = client.data_sources.list(
    system="Stripe",
    with_processing_status=True,
    with_auto_churn_subscription_setting=True,
)
print(stripe.processing_status)
print(stripe.auto_churn_subscription_setting)
"""),
    md("""
In a table, each block's fields become columns named with dots:
"""),
    code("""
detailed = client.data_sources.list(
    with_processing_status=True, with_auto_churn_subscription_setting=True
)
cmnb.DataSourceTable(detailed).df
"""),
    md("""
## 3. Retrieve one by uuid
"""),
    code("""
eu = client.data_sources.list(name="Billing EU")[0]
client.data_sources.retrieve(eu.uuid, with_invoice_handling_setting=True).invoice_handling_setting
"""),
    md("""
## 4. Delete

`delete(uuid)` removes the source **and everything imported into it**, at once and for good —
there is no undo, so check the uuid first. Afterwards, retrieving it raises
`cmnb.NotFoundError`.
"""),
    code("""
us = client.data_sources.list(name="Billing US")[0]
client.data_sources.delete(us.uuid)

print([ds.name for ds in client.data_sources.list()])
try:
    client.data_sources.retrieve(us.uuid)
except cmnb.NotFoundError as err:
    print(f"{type(err).__name__}: {err}")
"""),
    md("""
## 5. After a kernel restart: rebuild the table from the API

Suppose you created sources with the form, then the kernel restarted: `form.table` is gone, the
sources are not. Here we simulate the restart by stopping the sandbox and dropping every Python
object; the state file plays the part of ChartMogul's servers.
"""),
    code("""
sb.stop()
del sb, client, sources, detailed, stripe, eu, us
"""),
    md("""
After the "restart": connect again and rebuild the table with `DataSourceTable.from_api`, which
takes the same filters as `list()`. With a real account this is simply
`cmnb.DataSourceTable.from_api(cmnb.connect())`.
"""),
    code("""
sb = cmnb.Sandbox(seed=2026, path=state_file).start()
client = sb.client()

table = cmnb.DataSourceTable.from_api(client, system="Custom")
table
"""),
    md("""
The table can be kept up to date: `table.refresh(client)` reloads every source it holds and
drops (and returns) those deleted elsewhere. It can be handed to a new form,
`cmnb.DataSourceForm(client, table=table)`, or exported with `table.to_csv(path)`.
"""),
    code("""
client.data_sources.delete(table.find_name("Billing EU").uuid)
dropped = table.refresh(client)
print("dropped:", [ds.name for ds in dropped])
print(repr(table))
"""),
    code("""
sb.stop()
shutil.rmtree(workdir)
"""),
]

APP: list[Cell] = [
    md("""
# New ChartMogul data source

Type a name and press **Create** (or Enter). Everything you create is listed below the form.

With no API key configured this page uses the **embedded sandbox** (nothing leaves this
machine): paste a key into **API key** and press **Go LIVE** to work on your ChartMogul account,
or start the page with `CHARTMOGUL_API_KEY` set.
"""),
    code("""
import cmnb

cmnb.DataSourceForm()
"""),
]

#: Notebooks that also ship inside the package, written from the same cells without outputs:
#: ``cmnb app`` serves the packaged copy (a wheel has no notebooks/ folder).
PACKAGED = {"app.ipynb": HERE.parent / "cmnb" / "notebook" / "app.ipynb"}

NOTEBOOKS: dict[str, list[Cell]] = {
    "01-create-a-source.ipynb": NOTEBOOK_01,
    "02-bulk-setup.ipynb": NOTEBOOK_02,
    "03-errors-and-recovery.ipynb": NOTEBOOK_03,
    "04-manage-sources.ipynb": NOTEBOOK_04,
    "app.ipynb": APP,
}


def make(filename: str, cells: list[Cell]) -> nbformat.NotebookNode:
    """A new notebook with stable cell ids (so a rebuild changes only what really changed)."""
    stem = filename.removesuffix(".ipynb")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for number, (kind, source) in enumerate(cells):
        cell = (nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell)(
            source
        )
        cell.id = f"{stem}-{number:02d}"
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    """Run every cell in a fresh kernel (in this directory), keeping outputs and widget state."""
    NotebookClient(
        nb,
        kernel_name=KERNELSPEC["name"],
        timeout=120,
        resources={"metadata": {"path": str(HERE)}},
        store_widget_state=True,
        record_timing=False,
    ).execute()


def main(argv: list[str]) -> int:
    for variable in ("CHARTMOGUL_API_KEY", "CHARTMOGUL_BASE_URL"):
        os.environ.pop(variable, None)  # the kernel inherits this environment
    if (HERE / ".env").exists():
        print(f"refusing to run: {HERE / '.env'} could turn the notebooks LIVE", file=sys.stderr)
        return 2
    chosen = [name for name in NOTEBOOKS if not argv or name.startswith(tuple(argv))]
    for filename in chosen:
        if filename in PACKAGED:
            nbformat.write(make(filename, NOTEBOOKS[filename]), PACKAGED[filename])
            print(f"wrote {PACKAGED[filename].relative_to(HERE.parent)}")
        nb = make(filename, NOTEBOOKS[filename])
        execute(nb)
        if _has_widgets(nb):
            nb = stable_widget_ids(nb, filename)
        # The widget state is kept for stable_widget_ids only. Saved, it would make nbconvert
        # and nbviewer draw each widget from it, with JavaScript from a CDN (a blank offline),
        # instead of the static picture in the widget's output (cmnb/notebook/_snapshot.py).
        nb.metadata.pop("widgets", None)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / filename)
        print(f"wrote {filename}")
    return 0


def stable_widget_ids(nb: nbformat.NotebookNode, filename: str) -> nbformat.NotebookNode:
    """Rename the kernel's random widget model ids to ids derived from the notebook's name.

    Every widget gets a fresh random id on each run, so without this a rebuild would rewrite
    the whole saved widget state and every widget output even when nothing else changed. The
    ids are renamed in creation order, everywhere they appear (outputs, state, IPY_MODEL_ refs).
    """
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    text = nbformat.writes(nb)
    for number, model_id in enumerate(list(state)):
        stable = uuid.uuid5(uuid.NAMESPACE_URL, f"cmnb-notebooks/{filename}/{number}").hex
        text = text.replace(model_id, stable)
    return nbformat.reads(text, as_version=4)


def _has_widgets(nb: nbformat.NotebookNode) -> bool:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return bool(state.get("state"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
