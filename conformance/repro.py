"""A finding's reproduction: a bash script that runs on its own after the run.

A request alone rarely reproduces anything once the run is over: its session cookie has
been replaced, the capture it names was created by an earlier request (and maybe stopped
or deleted since), its name was unique then and is taken now. So the script replays the
slice of the run the request depends on, found in the run's exchanges rather than told
by each check:

- every value the request carries that the run did not bring (path values, credentials,
  long query and body strings) is traced to the latest earlier request whose answer
  produced it (a JSON field, or a ``Set-Cookie``); that request is replayed first and
  the value captured into a shell variable (curl and python3 are all it needs);
- requests between that producer and the finding's request that changed what the value
  names (a stop or delete of that capture, a logout of that session) are replayed too;
- values the run generated to be unique (MyCRT's capture names) get a fresh suffix, so
  the script does not collide with what the run left behind.

Values of the profile are taken as they are: static tokens stay valid after the run.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from conformance.readonly import READS
from conformance.transport import CURL_OWN_HEADERS, Exchange

#: query and body strings shorter than this are taken literally (limits, flags, text)
TRACED_LENGTH = 16
#: how many requests a script replays at most before the finding's own
MOST_STEPS = 12
#: the longest a script sleeps between two steps (a run waits at most --max-wait)
MOST_SLEEP = 120
#: the mock's clock: a run that moved it is replayed moving it as much
CLOCK_PATH = "/__admin/clock"

#: a piece of a shell word: literal text, or the name of a variable
Piece = tuple[bool, str]


@dataclass
class _Origin:
    """Where a traced value comes from: a producing request and how to read it there."""

    step: int
    variable: str
    json_path: tuple[str | int, ...] = ()
    cookie: str | None = None


@dataclass
class _Plan:
    history: Sequence[Exchange]
    fixed: Collection[str]
    generated: re.Pattern[str] | None
    origins: dict[str, _Origin] = field(default_factory=dict)
    fresh: dict[str, str] = field(default_factory=dict)
    steps: set[int] = field(default_factory=set)
    #: steps that only sign in: the time before what the request is about exists is moot
    sign_ins: set[int] = field(default_factory=set)

    def variable(self, prefix: str) -> str:
        return f"{prefix}{len(self.origins) + len(self.fresh) + 1}"


def script(exchange: Exchange, history: Sequence[Exchange], fixed: Collection[str] = (),
           generated: re.Pattern[str] | None = None) -> str:
    """The bash lines that reproduce ``exchange`` after the run (see the module)."""
    position = next((index for index in range(len(history) - 1, -1, -1)
                     if history[index] is exchange), None)
    plan = _Plan(history, fixed, generated)
    if position is None:  # not one of the run's: the request as it was sent
        return "\n".join([*_file_lines(exchange), _command(plan, exchange, ["curl", "-s", "-i"])])
    pending = [position]
    while pending:
        index = pending.pop()
        for value, where in _carried(history[index], generated):
            if value in plan.origins or value in plan.fixed or len(plan.steps) >= MOST_STEPS:
                continue
            origin = _producer(plan, index, value, where)
            if origin is None:
                continue
            plan.origins[value] = origin
            if where == "credential":
                plan.sign_ins.add(origin.step)
            for step in (origin.step, *_changes(history, origin.step, position, value, where)):
                if step not in plan.steps and len(plan.steps) < MOST_STEPS:
                    plan.steps.add(step)
                    pending.append(step)
    for step in (*sorted(plan.steps), position):
        for text in _generated_values(history[step], generated):
            plan.fresh.setdefault(text, plan.variable("NAME"))
    lines = [f'{name}="{value}-$RANDOM"' for value, name in plan.fresh.items()]
    previous = None
    for step in sorted(plan.steps):
        lines += _time_between(history, previous, step) + _setup_lines(plan, step)
        previous = None if step in plan.sign_ins and previous is None else step
    lines += _time_between(history, previous, position) + _file_lines(history[position])
    lines.append(_command(plan, history[position], ["curl", "-s", "-i"]))
    return "\n".join(lines)


def _time_between(history: Sequence[Exchange], start: int | None, end: int) -> list[str]:
    """The time that passed between two replayed steps, passed again: the mock clock's
    moves in between, summed into one; else, from a second on, a sleep as long."""
    if start is None:
        return []
    moves = [history[index] for index in range(start + 1, end)
             if history[index].method == "POST" and urlsplit(history[index].url).path
             == CLOCK_PATH and 200 <= history[index].status < 300]
    seconds = sum(float((_json(move.request_body) or {}).get("advance_seconds", 0))
                  for move in moves)
    if moves and seconds > 0:
        return [f"curl -s -o /dev/null -X POST {shlex.quote(moves[0].url)} -H "
                f"'Content-Type: application/json' --data-binary "
                f"'{{\"advance_seconds\": {seconds:g}}}'"]
    waited = history[end].sent_at - history[start].sent_at
    return [f"sleep {min(waited, MOST_SLEEP):.0f}"] if not moves and waited >= 1 else []


def _json(data: bytes | None) -> Any:
    try:
        return json.loads(data or b"")
    except ValueError:
        return None


# -- what a request carries -------------------------------------------------------------


def _carried(exchange: Exchange, generated: re.Pattern[str] | None
             ) -> Iterator[tuple[str, str]]:
    """(value, where) for every value worth tracing: path values, credentials, long query
    and JSON body strings, and the run's generated unique values (a capture's name)."""
    for value in exchange.path_values.values():
        yield value, "path"
    for name, value in exchange.request_headers.items():
        lowered = name.lower()
        if lowered == "cookie":
            for pair in value.split(";"):
                yield pair.partition("=")[2].strip(), "credential"
        elif lowered == "authorization" and " " in value:
            yield value.split(" ", 1)[1], "credential"
        elif lowered == "x-api-session":
            yield value, "credential"
    def traced(value: str) -> bool:
        return len(value) >= TRACED_LENGTH or bool(generated and generated.fullmatch(value))

    for _, value in parse_qsl(urlsplit(exchange.url).query):
        if traced(value):
            yield value, "query"
    for value in _body_strings(exchange):
        if traced(value):
            yield value, "body"
    for value in (exchange.form_fields or {}).values():
        if len(value) >= TRACED_LENGTH:
            yield value, "form"


def _body_strings(exchange: Exchange) -> Iterator[str]:
    if exchange.form_fields is not None or not exchange.request_body:
        return
    yield from _strings(_json(exchange.request_body))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _generated_values(exchange: Exchange, generated: re.Pattern[str] | None) -> list[str]:
    if generated is None:
        return []
    found = [value for value in _body_strings(exchange) if generated.fullmatch(value)]
    found += [value for _, value in parse_qsl(urlsplit(exchange.url).query)
              if generated.fullmatch(value)]
    return found


# -- where a value comes from -----------------------------------------------------------


def _producer(plan: _Plan, before: int, value: str, where: str) -> _Origin | None:
    """The latest earlier request that changed state and whose answer carries ``value``:
    in a ``Set-Cookie``, or in its JSON at an id-like key (``id``, ``..._id``, ``token``,
    ``name``), the shallowest such place. A request that named the value in its path,
    query or credentials only echoes it (a delete answering the capture it deleted); one
    that sent it in its body made it (a create of that name). An upload form's fields
    (a signed policy, unique) come from any answer that carries them, reads included."""
    form = where == "form"
    cookie_pattern = re.compile(r"(?:^|[\s,])([\w.-]+)=" + re.escape(value) + r"(?:;|$)")
    raw = value.encode()
    for index in range(before - 1, -1, -1):
        exchange = plan.history[index]
        if (exchange.method in READS and not form) or not 200 <= exchange.status < 300 or (
                raw not in exchange.body and value not in exchange.headers.get("Set-Cookie", "")):
            continue
        if any(carried == value for carried, place in _carried(exchange, None)
               if place != "body"):
            continue
        cookie = cookie_pattern.search(exchange.headers.get("Set-Cookie", ""))
        if cookie:
            return _Origin(index, plan.variable("SESSION"), cookie=cookie.group(1))
        path = _json_path(exchange.json_or_none(), value, any_key=form)
        if path is not None:
            name = re.sub(r"\W+", "_", str(path[-1])).strip("_").upper() or "VALUE"
            return _Origin(index, plan.variable(name), json_path=path)
    return None


def _json_path(body: Any, value: str, any_key: bool = False
               ) -> tuple[str | int, ...] | None:
    """Breadth first, so the shallowest match wins; a list's last item is read as -1
    (the newest entry of a list that grows, such as a proof's captures)."""
    level: list[tuple[tuple[str | int, ...], Any]] = [((), body)]
    while level:
        following: list[tuple[tuple[str | int, ...], Any]] = []
        for path, node in level:
            if isinstance(node, dict):
                for key, child in node.items():
                    if (any_key or _id_like(key)) and _same(child, value):
                        return (*path, key)
                    following.append(((*path, key), child))
            elif isinstance(node, list):
                following += [((*path, index - len(node) if index == len(node) - 1 else index),
                               child) for index, child in enumerate(node)]
        level = following
    return None


def _id_like(key: str) -> bool:
    lowered = key.lower()
    return lowered in ("id", "token", "name") or lowered.endswith(("id", "_token"))


def _same(child: Any, value: str) -> bool:
    if isinstance(child, bool) or not isinstance(child, (str, int)):
        return False
    return str(child) == value


def _changes(history: Sequence[Exchange], start: int, end: int, value: str,
             where: str) -> Iterator[int]:
    """Requests after the producer that changed what ``value`` names: a stop, edit or
    delete of that capture (the value in their path or query), a logout of that session
    (a credential on a request with neither path values nor body)."""
    for index in range(start + 1, end):
        exchange = history[index]
        if exchange.method in READS or not 200 <= exchange.status < 300:
            continue
        named = value in exchange.path_values.values() or value in dict(
            parse_qsl(urlsplit(exchange.url).query)).values()
        ended = where == "credential" and not exchange.path_values and not \
            exchange.request_body and value in " ".join(exchange.request_headers.values())
        if named or ended:
            yield index


# -- the script -------------------------------------------------------------------------


def _setup_lines(plan: _Plan, step: int) -> list[str]:
    exchange = plan.history[step]
    produced = [(value, origin) for value, origin in plan.origins.items()
                if origin.step == step]
    lines = _file_lines(exchange)
    if not produced:
        return [*lines, _command(plan, exchange, ["curl", "-s", "-o", "/dev/null"])]
    answer = f"ANSWER{sorted(plan.steps).index(step) + 1}"
    lines.append(f"{answer}=$({_command(plan, exchange, ['curl', '-s', '-i'])})")
    for _, origin in produced:
        lines.append(f"{origin.variable}=$(printf '%s' \"${answer}\" | python3 -c "
                     f"{shlex.quote(_reader(origin))})")
    return lines


def _reader(origin: _Origin) -> str:
    """Python that reads the value from an answer with its headers (curl -i)."""
    if origin.cookie is not None:
        pattern = re.escape(origin.cookie) + r"=([^;\s]+)"
        return f'import re, sys; print(re.search(r"{pattern}", sys.stdin.read())[1])'
    keys = "".join(f"[{json.dumps(key)}]" for key in origin.json_path)
    # the body follows the last header block (curl -i may show a 100 Continue first)
    return ('import json, sys; '
            f'print(json.loads(sys.stdin.read().rpartition("\\r\\n\\r\\n")[2]){keys})')


def _command(plan: _Plan, exchange: Exchange, start: list[str]) -> str:
    values = {value: origin.variable for value, origin in plan.origins.items()}
    values.update(plan.fresh)
    words = [*start, "-X", exchange.method, _word(_url_pieces(exchange, values))]
    for name, value in exchange.request_headers.items():
        multipart_type = exchange.form_fields is not None and name.lower() == "content-type"
        if multipart_type or name.lower() in CURL_OWN_HEADERS:
            continue
        words += ["-H", _word(_substituted(f"{name}: {value}", values))]
    if exchange.form_fields is not None:
        for name, value in exchange.form_fields.items():
            words += ["--form-string", _word(_substituted(f"{name}={value}", values))]
        words += ["-F", shlex.quote(f"file=@{_file_name(exchange)}" + (
            f";type={exchange.file_type}" if exchange.file_type else ""))]
    elif exchange.request_body:
        text = exchange.request_body.decode("utf-8", "replace")
        words += ["--data-binary", _word(_substituted(text, values, quoted=True))]
    return " ".join(words)


def _file_name(exchange: Exchange) -> str:
    return exchange.file_name or "upload.bin"


def _file_lines(exchange: Exchange) -> list[str]:
    """The uploaded file, written again where the form's ``@file`` expects it."""
    if exchange.form_fields is None or exchange.file_content is None:
        return []
    data = base64.b64encode(exchange.file_content).decode()
    write = "import base64, sys; sys.stdout.buffer.write(base64.b64decode(sys.argv[1]))"
    return [f"python3 -c {shlex.quote(write)} {data} > {shlex.quote(_file_name(exchange))}"]


def _url_pieces(exchange: Exchange, values: Mapping[str, str]) -> list[Piece]:
    parts = urlsplit(exchange.url)
    pieces: list[Piece] = [(True, f"{parts.scheme}://{parts.netloc}")]
    traced = set(exchange.path_values.values())
    for segment in parts.path.split("/")[1:]:
        pieces.append((True, "/"))
        name = values.get(unquote(segment)) if unquote(segment) in traced else None
        pieces.append((False, name) if name else (True, segment))
    for index, (key, value) in enumerate(parse_qsl(parts.query, keep_blank_values=True)):
        pieces.append((True, ("?" if index == 0 else "&") + urlencode({key: ""})))
        pieces.append((False, values[value]) if value in values else (True, quote(value)))
    return pieces


def _substituted(text: str, values: Mapping[str, str], quoted: bool = False) -> list[Piece]:
    """``text`` with every traced value replaced by its variable; in a JSON body only
    whole strings (``"value"``), elsewhere whole ``=``/space-delimited tokens."""
    pieces: list[Piece] = [(True, text)]
    for value, name in sorted(values.items(), key=lambda item: -len(item[0])):
        pattern = (re.escape(json.dumps(value)[1:-1]) if quoted else re.escape(value))
        bounds = (r'(?<=")', r'(?=")') if quoted else (r"(?<![\w.-])", r"(?![\w.-])")
        expression = re.compile(bounds[0] + pattern + bounds[1])
        following: list[Piece] = []
        for literal, piece in pieces:
            if not literal:
                following.append((literal, piece))
                continue
            for index, part in enumerate(expression.split(piece)):
                if index:
                    following.append((False, name))
                following.append((True, part))
        pieces = following
    return pieces


def _word(pieces: list[Piece]) -> str:
    """One shell word from literal and variable pieces."""
    return "".join(shlex.quote(piece) if literal else f'"${{{piece}}}"'
                   for literal, piece in pieces if piece or not literal)
