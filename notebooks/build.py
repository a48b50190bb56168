"""Write the example notebooks from the Python source below, execute them, save their outputs.

    .venv/bin/python notebooks/build.py            # every notebook
    .venv/bin/python notebooks/build.py 03 app     # only those whose file name starts so

The notebooks are tests: ``make test`` re-executes each one with nbval and compares every output
with the one saved here. After changing a notebook (edit it HERE, not in JupyterLab) or cmnb
itself, run this script and commit the regenerated ``.ipynb`` files with the code change.

They are also how-tos that readers share, so every visible cell is code a reader would copy:
nothing in a cell exists for the tests. What makes the saved outputs repeat is set around the
kernel instead, by :func:`kernel_env`, which this script, the nbval run (``notebooks/conftest.py``)
and ``tests/test_notebooks.py`` all use:

- ``CMNB_SANDBOX_SEED``: the seed ``cmnb.connect()`` gives its embedded sandbox, one per notebook
  (:data:`SEEDS`), so uuids and timestamps repeat and no uuid is shared by two notebooks. A
  reader running a notebook has no seed: fresh uuids.
- ``IPYTHONDIR``: an IPython directory of the build's own, whose startup file
  (:data:`KERNEL_STARTUP`) makes bulk creates go one at a time. A seeded sandbox hands out
  uuids in the order creates arrive, and concurrent creates arrive in any order.
- no ``CHARTMOGUL_API_KEY``/``CHARTMOGUL_BASE_URL``; the kernel runs in this directory.

Only the sandbox's port changes from run to run (``sanitize.cfg`` hides it from nbval). Keep
cells quick: nbval gives up on a cell that sends no output for 5 s.
"""

from __future__ import annotations

import base64
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Mapping
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


def intro(text: str, *, data: str = "") -> Cell:
    """A notebook's first cell: its title and purpose, then how to run it."""
    keep_data = f" Keep the `data/` folder next to this notebook: {data}." if data else ""
    return md(
        text.strip("\n")
        + f"""

**Run it yourself.** From a clone of cmnb: `make lab`. With cmnb installed:
`pip install 'cmnb[notebook]'`, then `jupyter lab`, and open this file.{keep_data} No account or
API key is needed: the notebook works on the **embedded sandbox**, a stand-in for a ChartMogul
account that runs inside the notebook's kernel. Nothing leaves your machine, and a new kernel
starts with an empty account.
"""
    )


NOTEBOOK_01: list[Cell] = [
    intro("""
# Create a data source

A **data source** is where ChartMogul keeps the customers, plans and invoices you import into
it: one for each billing system — *In-house billing*, *Billing EU*, … This notebook makes one
with a line of code, then with a form, and shows where what you make lands: a pandas DataFrame.
"""),
    md("""
## 1. Connect

`cmnb.connect(sandbox=True)` gives you a client for the sandbox, even when an API key is
configured: following a tutorial never touches your real account. The client says where its
requests go.
"""),
    code("""
import cmnb

client = cmnb.connect(sandbox=True)
client
"""),
    md("""
**SANDBOX**: its requests go to `127.0.0.1`, this machine. The last section shows how to go
LIVE.

## 2. Make sure a source exists

This is ChartMogul's own example, *Create a Source*, made safe to run twice: `ensure` creates the
source the first time and returns that same source on every later run (run the cell again: the
uuid stays). The name is checked before anything is sent; surrounding spaces are removed.
"""),
    code("""
source = client.data_sources.ensure("In-house billing")
source
"""),
    md("""
A `cmnb.DataSource` holds the five fields of ChartMogul's answer: `uuid` (the `ds_…` id every
later call uses), `name`, `system` (always `Custom` for sources made through the API), `status`,
and `created_at`, a `datetime` in UTC:
"""),
    code("""
source.created_at
"""),
    md("""
(`source.to_dict()` gives the JSON object back, exactly as the API sent it.)

`create` is the plain call: it always asks for a **new** source. Names are unique in an account,
so on a name that is taken it raises `cmnb.DuplicateNameError`, which carries the source that
holds the name. This cell shows that error on purpose, and catches it:
"""),
    code("""
try:
    client.data_sources.create("In-house billing")
except cmnb.DuplicateNameError as taken:
    print(taken)
    print("The source that holds the name is ours:", taken.existing.uuid == source.uuid)
"""),
    md("""
## 3. The form

The same without code. Run the next cell and try it:

- type a name, say *Billing EU*, and press **Create** (or Enter): the line under the form says
  what happened, and the new source joins the table at the bottom;
- type *In-house billing*: the account already holds it, so **Create** is refused, with the uuid
  of the source that holds the name. Tick **If it exists, reuse it** and press **Create** again:
  the form finds that source instead (`get_or_create`) and adds it to its table;
- clear the name, or type only spaces: **Create** turns grey, and the form says why.
"""),
    code("""
form = cmnb.DataSourceForm(client)
form
"""),
    md("""
After creating *In-house billing* and *Backoffice*, then trying *Billing EU* in an account that
already held it, the form looks like this:

![The form after two creates and a refusal](attachment:form.png)

From the top: the mode line (**SANDBOX** or **LIVE**); **One name | Many names** (notebook 02
shows Many names); the name and **Create**; **If it exists, reuse it**; the outcome of the last
click, on one line, never a traceback; the sources created with this form, newest first. In the
sandbox with no key configured, an **API key** field and a **Go LIVE** button show above them
(see the last section).

## 4. What you made, as a DataFrame

`form.table` collects every source the form created or reused, and `form.table.df` is a fresh
pandas DataFrame of them, in the order they came in: one row per source, its fields as columns,
`created_at` as UTC timestamps. It is empty in the saved copy of this notebook, where nothing was
clicked: create a source or two with the form, then run this cell again.
"""),
    code("""
form.table.df
"""),
    md("""
From here it is pandas: filter, join, `form.table.to_csv("sources.csv")`.

## SANDBOX or LIVE?

cmnb talks either to the **embedded sandbox**, a local stand-in for ChartMogul's Data Sources API
running in this kernel, or to your real ChartMogul account (**LIVE**). The client's display and
the form's first line always say which.

To work on your real account, get an API key in ChartMogul (**Profile → API keys**) and give it to
cmnb in one of these ways — never paste it into a cell you save:

| where | how |
|---|---|
| the environment | `export CHARTMOGUL_API_KEY=...` before `make lab` / `jupyter lab` |
| a `.env` file | a line `CHARTMOGUL_API_KEY=...` in the notebook's folder (keep it out of git) |
| the form | paste it into **API key** and press **Go LIVE** |

The form's key field is emptied as soon as the key is read, so the key is never saved with
the notebook.

Then use `client = cmnb.connect()`, which is LIVE when a key is configured (and the sandbox when
none is); everything else stays the same. `cmnb.connect(sandbox=False)` refuses to fall back to
the sandbox. The form on its own page, [app.ipynb](app.ipynb) (`make app`), starts that way.

**Next:** [02 — many sources at once](02-bulk-setup.ipynb) ·
[03 — errors you can catch](03-errors-and-recovery.ipynb) ·
[04 — list, look up, delete](04-manage-sources.ipynb) ·
[05 — reproducible setup](05-reproducible-setup.ipynb)
"""),
]

NOTEBOOK_02: list[Cell] = [
    intro(
        """
# Set up many data sources at once

Setting up an account usually means one data source per billing system, region or brand. This
notebook creates them from a Python list, from a CSV file and from a column pasted into the
form, in a way that is **safe to run again**: names the account already holds come back
`existing`, never created twice.
""",
        data="section 3 reads `data/new-sources.csv`",
    ),
    code("""
import pandas as pd

import cmnb

client = cmnb.connect(sandbox=True)
client
"""),
    md("""
## 1. One name: `get_or_create`

`get_or_create(name)` returns the source with exactly that name, and whether this call created
it. (`ensure(name)` is the same without the flag.)
"""),
    code("""
billing_eu, created = client.data_sources.get_or_create("Billing EU")
created
"""),
    md("""
`True` the first time. Run the cell again: `False`, and `billing_eu` is the same source.

## 2. Many names: `create_many`

`create_many(names)` checks every name first, looks the account up once, and then creates only
the names it does not hold yet, several at a time and within ChartMogul's limit of 40 requests
per second. It never raises because of one bad name: each name gets one **outcome**, in input
order.
"""),
    code("""
names = [
    "Billing US",
    "Billing EU",          # made above: existing
    "  Billing APAC  ",    # surrounding spaces are removed
    "",                    # refused before sending
    "Billing US",          # twice in this list: sent once
]
result = client.data_sources.create_many(names)
result
"""),
    md("""
The outcomes:

- `created`: created by this call;
- `existing`: the account already held the name, so nothing was sent for it;
- `repeated`: the same name is earlier in the input; it was sent once, and this row shares the
  fate of that first one;
- `failed`: not created, and the account does not hold it; `error` says why (an empty name, a
  refusal from ChartMogul, …);
- `unknown`: the answer was lost, and the lookup after it failed too: the source may or may not
  exist;
- `skipped`: never sent, because the run was interrupted: Ctrl-C or ⏹ (*Interrupt the
  kernel*), which raise `cmnb.BulkInterrupted` carrying the result so far
  (`.partial_result`), or **Stop** in the form.

Interrupted or unsure? Run the same call again: it picks up where it stopped, and whatever was
created comes back `existing`. The result also gives `result.counts`, `result.summary()`,
`result.ok` (every name is in the account) and the rows of each kind (`result.failed`, …).

## 3. From a CSV file

`data/new-sources.csv` lists sources with their region. Any column of names works: a pandas
Series, a list, a generator.
"""),
    code("""
wanted = pd.read_csv("data/new-sources.csv")
wanted
"""),
    md("""
With `progress="auto"` a progress bar counts the names as they are done (in a terminal, a text
bar):
"""),
    code("""
result = client.data_sources.create_many(wanted["name"], progress="auto")
result
"""),
    md("""
Run that cell again and nothing is created: every name comes back `existing`. That is what
makes a setup notebook safe to re-run after a failure half-way through.

## 4. Keep the uuids next to your data

`result.to_frame()` is the outcome table as a DataFrame, one row per name with its outcome,
uuid and error, ready to join onto your own data by name:
"""),
    code("""
setup = wanted.merge(result.to_frame()[["name", "uuid"]], on="name")
setup
"""),
    md("""
`setup.to_csv("data-sources.csv", index=False)` saves it. To export every source in the account,
not only this run's: `cmnb.DataSourceTable.from_api(client).to_csv("all-sources.csv")`
(notebook 04).

## 5. Paste a column into the form: Many names

The form does the same for names you have in a spreadsheet. Run the next cell and try it:

1. Click **Many names**.
2. In the spreadsheet, select the cells of the name column (without its header), copy them, and
   paste them into the **Names** box: one name per line. Blank lines are ignored.
3. Under the box, as you paste or type, a summary says how many names will be sent, which lines
   cannot be sent and why, and which names are in the box more than once (each is sent once).
4. Press **Create all**. A progress bar counts the names; **Stop** beside it stops sending.
5. Read the outcome rows, one per name sent, with the outcomes of section 2. The names now in the
   account leave the box; failed, unknown and unsent lines stay, to be fixed and sent again.

Tick **If it exists, reuse it** to have names the account already holds reported `existing`;
unticked, they fail with the uuid of the source that holds the name. To look before you send,
press **Preview**: it shows which names would be created and which the account already holds, and
**Apply** then does exactly that (plans are notebook 05's subject).
"""),
    code("""
form = cmnb.DataSourceForm(client)
form
"""),
    md("""
**Create all** sends the box's names through `client.data_sources.create_many`, the call of
section 2. A column pasted into a cell works the same way:
"""),
    code('''
pasted = """
Billing US
Partner sales
Billing EU
Partner sales
"""
client.data_sources.create_many(pasted.strip().splitlines())
'''),
    md("""
**With a real account** the code is the same, with `client = cmnb.connect()`. `create_many`
keeps under ChartMogul's 40 requests per second and 20 connections, slows down by itself when
asked to (HTTP 429), and never creates a name twice, even when an answer is lost on the way back
([Bulk setup](../docs/bulk.md)).

**Next:** [03 — errors you can catch](03-errors-and-recovery.ipynb) ·
[05 — reproducible setup: plan, then apply](05-reproducible-setup.ipynb)
"""),
]

NOTEBOOK_03: list[Cell] = [
    intro("""
# When something goes wrong: errors you can catch

Every error cmnb raises is a `cmnb.CmnbError`, with a message that says what happened, what the
server said and what to do. This notebook shows the ones you will meet, each in a `try`/`except`
you can copy. Each cell that shows an error does it on purpose, and catches it.

```
CmnbError
├── ConfigError         no API key, a bad base URL or option
├── InputError          refused before sending: nothing was sent
├── TransportError      no answer: network down, timeout
└── APIError            ChartMogul said no: .status, .message
    ├── AuthenticationError    401  a wrong API key
    ├── NotFoundError          404  no such data source
    ├── DuplicateNameError     422  the name is taken (.existing)
    ├── RateLimitError         429  too fast (.retry_after_s)
    └── ServerError            5xx  trouble at ChartMogul
```
"""),
    code("""
import cmnb

client = cmnb.connect(sandbox=True)
client
"""),
    md("""
## 1. A bad name: refused before anything is sent

An empty or blank name, a control character such as a tab, or a value that is not text raises
`cmnb.InputError` at once. Nothing reaches ChartMogul.
"""),
    code("""
for name in ["", "   ", "Billing\\tEU", 42]:
    try:
        client.data_sources.create(name)
    except cmnb.InputError as refused:
        print(f"{name!r}: {refused}")
"""),
    md("""
## 2. A name that is taken

Names are unique in an account. Say the account holds *In-house billing*:
"""),
    code("""
client.data_sources.ensure("In-house billing")
"""),
    md("""
Then `create` with that name raises `cmnb.DuplicateNameError`, and its `.existing` is the
source that holds the name, to carry on with. (`ensure(name)` does exactly that for you.)
"""),
    code("""
try:
    source = client.data_sources.create("In-house billing")
except cmnb.DuplicateNameError as taken:
    print(taken)
    source = taken.existing
"""),
    md("""
## 3. A wrong API key

A key ChartMogul does not accept gives `cmnb.AuthenticationError` (HTTP 401). It is never
retried, and no message, log line or `repr` shows the key. `client.ping()` checks a key without
changing anything. Here a second client talks to the same sandbox with a key it does not know
(`base_url=client.base_url`; for ChartMogul itself, leave `base_url` out):
"""),
    code("""
wrong = cmnb.Client(api_key="not-a-real-key", base_url=client.base_url)
try:
    wrong.ping()
except cmnb.AuthenticationError as refused:
    print(refused)
"""),
    md("""
## 4. A data source that is not there

A uuid the account does not hold (never made, or deleted) gives `cmnb.NotFoundError` (HTTP 404)
on `retrieve` and `delete`:
"""),
    code("""
try:
    client.data_sources.retrieve("ds_00000000-0000-0000-0000-000000000000")
except cmnb.NotFoundError as missing:
    print(missing)
"""),
    md("""
## 5. No answer, too fast, trouble at ChartMogul

These do not happen here, and cmnb mostly deals with them for you. It paces its requests under
ChartMogul's limit of 40 per second, waits when asked to (HTTP 429 with `Retry-After`), and
retries a lost connection or a 5xx answer, up to 4 attempts within 60 seconds — a create only in
ways that can never make two sources ([Retries and safety](../docs/retries-and-safety.md)). You
see an error when that was not enough. A pattern to copy:
"""),
    code("""
try:
    source = client.data_sources.ensure("Billing EU")
except cmnb.RateLimitError as too_fast:
    print(f"ChartMogul asks us to wait {too_fast.retry_after_s} s: try again then.")
except (cmnb.TransportError, cmnb.ServerError) as trouble:
    print("ChartMogul could not be reached, or could not answer:", trouble)
    if trouble.maybe_sent:
        print("The source may exist: look with client.data_sources.list(name='Billing EU').")
except cmnb.CmnbError as error:
    print(error)
else:
    print("OK:", source.name, source.uuid)
"""),
    md("""
`maybe_sent` is `True` when the request may have reached ChartMogul and nobody could tell what
it did: for a create, when even the lookup cmnb makes after a lost answer failed. The appendix
[90 — failures up close](90-appendix-failures-up-close.ipynb) makes these failures happen on
purpose and shows what cmnb does about each.

## 6. Many names: errors are rows, not exceptions

`create_many` raises only for a bad argument (and for Ctrl-C: `cmnb.BulkInterrupted`, which
carries the partial result). Every problem with a name is that name's row:
"""),
    code("""
result = client.data_sources.create_many(["Billing US", "", "Billing\\tUS"])
result
"""),
    md("""
## 7. Look before you send: `dry_run=True`

`create(name, dry_run=True)` checks the name and returns the request it would send, without
sending it. The key is never shown: the `Authorization` header is redacted.
"""),
    code("""
request = client.data_sources.create("Billing APAC", dry_run=True)
print(request.method, request.url)
print("body:         ", request.json)
print("Authorization:", request.headers["Authorization"])
"""),
    md("""
## 8. In the form

The form catches every one of these errors and shows one line instead of a traceback, for
example `✖ A data source named “In-house billing” already exists (ds_…). Tick “If it exists,
reuse it” to use it.` The full list is in [The form and the table](../docs/form-and-table.md).

**Next:** [04 — list, look up, delete](04-manage-sources.ipynb)
"""),
]

NOTEBOOK_04: list[Cell] = [
    intro("""
# Manage data sources: list, look up, delete

This notebook lists the sources of an account, with filters and optional detail, looks one up by
uuid, deletes one, and keeps a table of them up to date.
"""),
    code("""
import cmnb

client = cmnb.connect(sandbox=True)
client
"""),
    md("""
The sandbox starts empty: give it a few sources. With `ensure`, running the cell again changes
nothing.
"""),
    code("""
for name in ["In-house billing", "Billing EU", "Billing US", "Legacy invoices", "Trial import"]:
    client.data_sources.ensure(name)
"""),
    md("""
## 1. List

`client.data_sources.list()` returns every source in the account, as `cmnb.DataSource`s:
"""),
    code("""
sources = client.data_sources.list()
[source.name for source in sources]
"""),
    md("""
Two filters are applied by ChartMogul, and match exactly: `name=`
"""),
    code("""
client.data_sources.list(name="Billing EU")
"""),
    md("""
and `system=`: `Custom` for the sources made through the API (or cmnb's form); `Stripe`,
`Recurly`, … for the integrations connected in ChartMogul (**Data & Config → Sources → Add
source**). This sandbox has no integration:
"""),
    code("""
len(client.data_sources.list(system="Custom")), len(client.data_sources.list(system="Stripe"))
"""),
    md("""
## 2. As a table, and a DataFrame

`cmnb.DataSourceTable.from_api(client)` lists the account into a table, shown newest first. It
takes the filters of `list()`. It is also how you get your table back after a kernel restart:
the sources live in the account, not in the kernel. (The sandbox is the exception: it lives in
the kernel, and a restart empties it. `cmnb.Sandbox(path="sandbox.json")` keeps one in a file.)
"""),
    code("""
table = cmnb.DataSourceTable.from_api(client)
table
"""),
    md("""
`table.df` is the same sources as a pandas DataFrame (`created_at` as UTC timestamps):
"""),
    code("""
table.df
"""),
    md("""
## 3. More detail: the `with_*` blocks

Three optional blocks come only when asked for, on `list()`, `retrieve()` and `from_api()`:

| flag | block |
|---|---|
| `with_processing_status=True` | how many imported objects are processed, pending, failed |
| `with_auto_churn_subscription_setting=True` | whether subscriptions churn automatically |
| `with_invoice_handling_setting=True` | when invoices create or update subscriptions |

In a DataFrame each field of a block is a column named with a dot, such as
`processing_status.pending`:
"""),
    code("""
detailed = cmnb.DataSourceTable.from_api(client, with_processing_status=True)
detailed.df.set_index("name").filter(like="processing_status")
"""),
    md("""
## 4. One source by uuid: `retrieve`

`table.find_name(name)` finds a source of the table by its name; `retrieve(uuid)` asks the
account for it again, here with its invoice handling rules:
"""),
    code("""
billing_eu = table.find_name("Billing EU")
client.data_sources.retrieve(billing_eu.uuid, with_invoice_handling_setting=True)
"""),
    md("""
## 5. Delete

`delete(uuid)` removes the source **and everything imported into it**, at once and for good:
there is no undo, so check the uuid first. A uuid that is already deleted gives
`cmnb.NotFoundError`: run the next cell twice to see it caught.
"""),
    code("""
trial = table.find_name("Trial import")
try:
    client.data_sources.delete(trial.uuid)
    print("Deleted", trial.name, trial.uuid)
except cmnb.NotFoundError:
    print(trial.name, "was already deleted")
"""),
    md("""
## 6. Keep a table up to date

The table of section 2 still lists *Trial import*: a table holds what it was given.
`table.refresh(client)` reloads every source in it, and drops (and returns) the ones deleted
since:
"""),
    code("""
table.refresh(client)
"""),
    code("""
table
"""),
    md("""
A table can be handed to a form, which then adds to it: `cmnb.DataSourceForm(client,
table=table)`. It can be saved with `table.to_csv("sources.csv")`, with `created_at` written the
way the API writes it.

**Next:** [05 — reproducible setup: plan, then apply](05-reproducible-setup.ipynb)
"""),
]

NOTEBOOK_05: list[Cell] = [
    intro(
        """
# Reproducible setup: plan, then apply

Keep the list of sources an account should have in a cell (or a CSV file, or another account),
see what would change, then apply it. Applying it again changes nothing: this is Terraform's plan
and apply, for data sources.
""",
        data="section 6 reads `data/new-sources.csv`",
    ),
    code("""
import cmnb

client = cmnb.connect(sandbox=True)
client
"""),
    md("""
Say someone already made two sources in this account by hand:
"""),
    code("""
for name in ["In-house billing", "Trial import"]:
    client.data_sources.ensure(name)
"""),
    md("""
## 1. The list

The sources this account should have:
"""),
    code("""
desired = [
    "In-house billing",
    "Billing EU",
    "Billing US",
    "Legacy invoices",
]
"""),
    md("""
## 2. Plan: what would change

`plan` compares the list with the account. It costs one request, and changes nothing. Names are
checked as `create` checks them, and every bad row is reported at once, before anything is sent.
"""),
    code("""
plan = client.data_sources.plan(desired)
plan
"""),
    md("""
Three to create, and *In-house billing* is there already: nothing to do for it. *Trial import* is
not in the list, and is left alone: a plan deletes nothing unless you ask it to prune (section 5).

## 3. Apply
"""),
    code("""
result = plan.apply()
result
"""),
    md("""
Each step gets one outcome: `created`, `kept`, `deleted`; `existing` when someone made the name
between the plan and the apply (the account holds it: not an error); `gone` when someone else
deleted a source to delete first; `failed`, `unknown` or `skipped` as in `create_many`
(notebook 02).
Apply acts on what the plan showed, and nothing else.

## 4. Plan again: nothing left to do
"""),
    code("""
client.data_sources.plan(desired)
"""),
    md("""
Every name is unchanged. Run the whole notebook again: the same.

## 5. Prune: the list, and nothing else

With `prune=True` the plan also deletes every source not in the list. Only `Custom` ones, the
kind the API makes: an integration (Stripe, Recurly, …) is listed as `ignore` and never deleted.
"""),
    code("""
plan = client.data_sources.plan(desired, prune=True)
plan
"""),
    md("""
Deleting a source destroys everything imported into it, at once and for good. So `apply` refuses
a plan with deletes, and sends nothing, unless `confirm_deletes` is the number of deletes. This
cell shows the refusal on purpose:
"""),
    code("""
try:
    plan.apply()
except cmnb.ConfirmationError as refused:
    print(refused)
"""),
    md("""
Read the plan, then confirm with the number of deletes it shows:
"""),
    code("""
result = plan.apply(confirm_deletes=1)
result
"""),
    md("""
## 6. The list in a file

`desired` can also be a CSV file with a `name` column (its other columns are ignored), a text
file with one name per line, a DataFrame, or a `DataSourceTable`:
"""),
    code("""
client.data_sources.plan("data/new-sources.csv")
"""),
    md("""
From a terminal, `cmnb plan data/new-sources.csv` shows the same plan, and `cmnb apply
data/new-sources.csv` asks before applying it ([The command line](../docs/cli.md)). In the form,
**Many names** has **Preview** and **Apply** (notebook 02).

## 7. Copy one account's sources to another

To give a new account the sources of an existing one, plan the new one with the existing one's
sources. Two more sandboxes stand in for the two accounts here; with real ones, make a client for
each: `cmnb.Client(api_key=...)`.
"""),
    code("""
source_account = cmnb.Sandbox(
    sources=[
        {"name": "In-house billing"},
        {"name": "Legacy invoices"},
        {"name": "Billing EU"},
        {"name": "Stripe", "system": "Stripe"},
    ]
).start()
target_account = cmnb.Sandbox().start()
src, dst = source_account.client(), target_account.client()
"""),
    md("""
Copy the `Custom` sources only: an integration such as Stripe is connected in ChartMogul, not
made by name (copied, it would become a custom source called *Stripe*).
"""),
    code("""
copy_plan = dst.data_sources.plan(src.data_sources.list(system="Custom"))
copy_plan
"""),
    code("""
copy_plan.apply().summary()
"""),
    code("""
dst.data_sources.plan(src.data_sources.list(system="Custom")).changes
"""),
    md("""
Only the names are copied: each new source starts empty, with a uuid of its own.

More in [Plan and apply](../docs/plan-and-apply.md): every form `desired` can take, stale plans,
Ctrl-C.
"""),
]

NOTEBOOK_90: list[Cell] = [
    intro("""
# Appendix: failures up close

For the curious: what cmnb does when ChartMogul asks it to slow down, loses an answer after it
acted, or keeps failing — the cases notebook 03 says cmnb deals with for you. This notebook
starts a sandbox of its own, `cmnb.Sandbox()`, for its two controls: a script of failures to
play (`sb.faults`) and the log of the requests it received (`sb.requests`). The rules are in
[Retries and safety](../docs/retries-and-safety.md); every fault the sandbox can play is in
[The sandbox](../docs/sandbox.md#faults-on-purpose).
"""),
    code("""
import cmnb

sb = cmnb.Sandbox().start()
client = sb.client()
client
"""),
    md("""
Two helpers: `fresh_start()` empties the account, the fault script and the log, so each
experiment starts the same (and can be run again); `wire()` prints what the sandbox received
since: method, path, status, and the fault that struck, if any.
"""),
    code("""
def fresh_start():
    sb.reset()


def wire():
    for request in sb.requests:
        print(request.method, request.path, request.status, request.fault or "")
"""),
    md("""
## 1. Too fast: 429 and `Retry-After`

ChartMogul allows 40 requests per second. cmnb paces itself to stay under that, and when the
server still answers **429 with a `Retry-After` header**, it waits that long and tries again.
Here the sandbox refuses the next create once, asking for a one-second pause:
"""),
    code("""
fresh_start()
sb.faults.add("create", status=429, retry_after=1)
client.data_sources.create("Billing EU")
wire()
"""),
    md("""
When the server asks for a longer wait than the call has left (a call has 60 s in all, by
default), cmnb does not sleep in vain: it raises `cmnb.RateLimitError` at once, and
`.retry_after_s` says when to try again:
"""),
    code("""
fresh_start()
sb.faults.add("create", status=429, retry_after=120)
try:
    client.data_sources.create("Billing US")
except cmnb.RateLimitError as too_fast:
    print(too_fast)
    print("retry after:", too_fast.retry_after_s, "s")
"""),
    md("""
## 2. The answer is lost after the source was made: still one source

The dangerous case: the server creates the source, then its answer is lost (a 500, or a
connection reset). Sending the create again blindly would make two. cmnb retries, meets *"Has
already been taken"*, looks the name up, and returns the source its first attempt made:
"""),
    code("""
fresh_start()
sb.faults.add("create", status=500, after_commit=True)
source = client.data_sources.create("Retried safely")
wire()
"""),
    code("""
len(client.data_sources.list(name="Retried safely"))
"""),
    md("""
The same when the connection is reset after the server acted (status `None`: no answer at all):
"""),
    code("""
fresh_start()
sb.faults.add("create", reset=True, after_commit=True)
source = client.data_sources.create("Reset safely")
wire()
"""),
    md("""
## 3. When every attempt fails

Every attempt answered 500 after the server stored the source: when its attempts run out, cmnb
looks the name up once, and finds it (this client makes 3 attempts; the default is 4):
"""),
    code("""
fresh_start()
sb.faults.add("create", status=500, after_commit=True, times=None)
source = sb.client(max_attempts=3).data_sources.create("Stored anyway")
wire()
"""),
    md("""
When that lookup fails too, nobody can tell whether the source exists. The error says so, and
its `maybe_sent` is `True`:
"""),
    code("""
fresh_start()
sb.faults.add("create", status=500, after_commit=True, times=None)
sb.faults.add("list", status=502, times=None)
try:
    sb.client(max_attempts=2).data_sources.create("In doubt")
except cmnb.ServerError as trouble:
    print(trouble)
    print()
    print("maybe_sent:", trouble.maybe_sent)
"""),
    md("""
`client.data_sources.list(name="In doubt")` tells, once ChartMogul answers again; or simply run
`ensure("In doubt")`. In `create_many` such a name comes back `unknown`, and running the same
call again settles it.

## 4. A server error that does not go away

A 502 whose body is an HTML page: the error shows the page's title, not the HTML. This client
makes one attempt only, to keep the notebook quick:
"""),
    code("""
fresh_start()
sb.faults.add("list", status=502)
try:
    sb.client(max_attempts=1).data_sources.list()
except cmnb.ServerError as trouble:
    print(trouble)
    print("status:", trouble.status)
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
    "05-reproducible-setup.ipynb": NOTEBOOK_05,
    "90-appendix-failures-up-close.ipynb": NOTEBOOK_90,
    "app.ipynb": APP,
}

#: The seed of each notebook's embedded sandbox (``CMNB_SANDBOX_SEED``), a different one per
#: notebook so that no uuid shows up in two of them. ``app.ipynb`` has none: nothing it saves
#: depends on one.
SEEDS: dict[str, int] = {
    "01-create-a-source.ipynb": 1,
    "02-bulk-setup.ipynb": 2,
    "03-errors-and-recovery.ipynb": 3,
    "04-manage-sources.ipynb": 4,
    "05-reproducible-setup.ipynb": 5,
    "90-appendix-failures-up-close.ipynb": 90,
}

#: The IPython startup file of the kernels that build and test the notebooks (never a reader's):
#: bulk creates (``create_many``, ``plan.apply``, the form's **Create all**) one at a time, so
#: each name meets the seeded sandbox in input order and gets the same uuid on every run. It
#: leaves no name behind in the notebook's namespace, and fails loudly if the setting moved.
KERNEL_STARTUP = """\
def _one_at_a_time():
    import importlib

    for name in ("cmnb.api._bulk", "cmnb.api._apply"):
        module = importlib.import_module(name)
        if not hasattr(module, "MAX_CONCURRENCY"):
            raise RuntimeError(f"notebooks/build.py: {name}.MAX_CONCURRENCY is gone")
        module.MAX_CONCURRENCY = 1


_one_at_a_time()
del _one_at_a_time
"""


def ipython_dir(path: str | Path) -> Path:
    """Make ``path`` an IPython directory for the build's kernels (:data:`KERNEL_STARTUP`)."""
    startup = Path(path) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-cmnb-notebooks.py").write_text(KERNEL_STARTUP, encoding="utf-8")
    return Path(path)


def kernel_env(filename: str, ipython: str | Path) -> dict[str, str | None]:
    """How the environment of ``filename``'s kernel differs from ours (``None``: unset).

    ``ipython`` is a directory made by :func:`ipython_dir`. Used by :func:`main`, by
    ``notebooks/conftest.py`` (nbval) and by ``tests/test_notebooks.py``.
    """
    seed = SEEDS.get(filename)
    return {
        "CHARTMOGUL_API_KEY": None,
        "CHARTMOGUL_BASE_URL": None,
        "CMNB_SANDBOX_SEED": None if seed is None else str(seed),
        "IPYTHONDIR": str(ipython),
    }


def changed(environ: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """A copy of ``environ`` with ``changes`` made (``None`` removes the variable)."""
    result = dict(environ)
    for variable, value in changes.items():
        if value is None:
            result.pop(variable, None)
        else:
            result[variable] = value
    return result


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
        _attach_pictures(cell)
        nb.cells.append(cell)
    return nb


def _attach_pictures(cell: nbformat.NotebookNode) -> None:
    """Pictures named ``attachment:NAME.png`` travel inside the notebook (from docs/NAME.png):
    a relative link breaks in an exported page or a mailed notebook, an attachment does not."""
    for name in re.findall(r"\(attachment:([\w.-]+\.png)\)", cell.source):
        data = base64.b64encode((HERE.parent / "docs" / name).read_bytes()).decode("ascii")
        cell.setdefault("attachments", {})[name] = {"image/png": data}


def execute(nb: nbformat.NotebookNode, env: Mapping[str, str]) -> None:
    """Run every cell in a fresh kernel (in this directory, with ``env``), keeping outputs and
    widget state."""
    NotebookClient(
        nb,
        kernel_name=KERNELSPEC["name"],
        timeout=120,
        resources={"metadata": {"path": str(HERE)}},
        store_widget_state=True,
        record_timing=False,
    ).execute(env=dict(env))


def main(argv: list[str]) -> int:
    if (HERE / ".env").exists():
        print(f"refusing to run: {HERE / '.env'} could turn the notebooks LIVE", file=sys.stderr)
        return 2
    chosen = [name for name in NOTEBOOKS if not argv or name.startswith(tuple(argv))]
    with tempfile.TemporaryDirectory(prefix="cmnb-notebooks-ipython-") as ipython:
        for filename in chosen:
            build(filename, changed(os.environ, kernel_env(filename, ipython_dir(ipython))))
    return 0


def build(filename: str, env: Mapping[str, str]) -> None:
    """Write ``filename`` (and its packaged copy), run it with ``env``, save it with outputs."""
    if filename in PACKAGED:
        nbformat.write(make(filename, NOTEBOOKS[filename]), PACKAGED[filename])
        print(f"wrote {PACKAGED[filename].relative_to(HERE.parent)}")
    nb = make(filename, NOTEBOOKS[filename])
    execute(nb, env)
    if _has_widgets(nb):
        nb = stable_widget_ids(nb, filename)
    # The widget state is kept for stable_widget_ids only. Saved, it would make nbconvert
    # and nbviewer draw each widget from it, with JavaScript from a CDN (a blank offline),
    # instead of the static picture in the widget's output (cmnb/notebook/_snapshot.py).
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    nbformat.write(nb, HERE / filename)
    print(f"wrote {filename}")


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
