"""The ``msgflux`` command: list plugins, chat with a model, run a batch file, show a profile.

::

    msgflux plugins [--json]
    msgflux chat -m provider/model [options] ["prompt" | -]
    msgflux batch INPUT.jsonl -o OUTPUT.jsonl [-m provider/model | --gateway GATEWAY.json] [...]
    msgflux profile [--json] provider/model

Exit codes: 0 success; 1 the provider, the plugin or the model failed (unknown provider,
missing API key, HTTP error, undecodable answer...); 2 the command line is wrong (argparse
errors, a bad ``-o`` option or option value, an unreadable ``--json-schema`` file); 130
interrupted (Ctrl-C). Errors go to stderr as one line; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

__all__ = ["main"]

PROG = "msgflux"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # what a shell reports for a writer killed by SIGPIPE

_DIM = "\x1b[2m"
_UNDIM = "\x1b[22m"


class UsageError(Exception):
    """A mistake on the command line that argparse itself cannot see (exit code 2)."""


# -- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``msgflux`` command line.

    Args:
        argv: The arguments after the program name; ``sys.argv[1:]`` by default.

    Returns:
        The process exit code (the console script passes it to ``sys.exit``).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)  # exits with 2 (and argparse's message) on usage errors
    # `--debug` is accepted before or after the command; argparse leaves it unset otherwise.
    args.debug = getattr(args, "debug", False)
    logging.basicConfig(
        level=logging.WARNING, format=f"{PROG}: %(levelname)s: %(name)s: %(message)s"
    )
    if args.debug:
        # msgflux's own loggers only: vendor SDKs log request options at DEBUG.
        logging.getLogger("msgflux").setLevel(logging.DEBUG)
    try:
        return int(args.handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        _print_error_end()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`msgflux chat ... | head -1`): stop quietly, and keep Python
        # from complaining again when it flushes stdout at exit.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        _report(exc, debug=args.debug)
        return EXIT_USAGE
    except Exception as exc:
        _report(exc, debug=args.debug)
        return _exit_code_for(exc)


def _exit_code_for(exc: BaseException) -> int:
    from msgflux.errors import MsgfluxError

    if isinstance(exc, MsgfluxError):
        return EXIT_FAILURE
    # The core validates options with TypeError / ValueError (unknown keyword, temperature
    # out of range...): on the command line those are usage errors.
    if isinstance(exc, TypeError | ValueError):
        return EXIT_USAGE
    return EXIT_FAILURE


def _report(exc: BaseException, *, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    message = " ".join(str(exc).split()) or type(exc).__name__
    from msgflux.errors import MsgfluxError

    if not isinstance(exc, MsgfluxError | UsageError | TypeError | ValueError | OSError):
        message = f"{type(exc).__name__}: {message} (run with --debug for the traceback)"
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _print_error_end() -> None:
    # Ctrl-C mid-answer leaves the cursor after partial text; end the line cleanly.
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
    if sys.stderr.isatty():
        print(file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# -- the parser ---------------------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    from msgflux import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log debug messages and print tracebacks of errors",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Call chat-completion LLMs through msgflux; providers are plugins.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    plugins = commands.add_parser(
        "plugins",
        parents=[common],
        help="list installed plugins, their providers and load errors",
        description="List every msgflux plugin: distribution, version, providers, hooks and "
        "load errors. Plugins that failed to load are listed with their error.",
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.set_defaults(handler=_cmd_plugins, subparser=plugins)

    chat = commands.add_parser(
        "chat",
        parents=[common],
        help="send a prompt and stream the answer",
        description="Send a prompt to a model and stream the answer to stdout. Reasoning is "
        "shown dimmed when stdout is a terminal, otherwise written to stderr. Without "
        "--api-key the provider's own environment variable is used (see its plugin).",
        epilog="examples:\n"
        '  msgflux chat -m openai/gpt-4.1-mini "Hello"\n'
        '  git diff | msgflux chat -m groq/openai/gpt-oss-120b -s "Review this diff"\n'
        "  msgflux chat -m fake/echo --json-schema person.json 'Ada, 36'\n"
        "  msgflux chat -m openai/gpt-5-mini -o reasoning_effort=low -o max_tokens=500 hi",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("prompt", nargs="?", help="the prompt; read from stdin when omitted or '-'")
    chat.add_argument(
        "-m",
        "--model",
        required=True,
        metavar="PROVIDER/MODEL",
        help="the model, e.g. openai/gpt-4.1-mini or groq/openai/gpt-oss-120b",
    )
    chat.add_argument("-s", "--system", metavar="TEXT", help="system prompt")
    chat.add_argument(
        "--json-schema",
        metavar="FILE",
        type=Path,
        help="answer as JSON following this JSON Schema file (structured output; not streamed)",
    )
    chat.add_argument("--base-url", metavar="URL", help="the API base URL (overrides the env var)")
    chat.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key (prefer the provider's env var: a key on the command line is visible "
        "to other users of this machine)",
    )
    chat.add_argument(
        "-o",
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model or provider option, repeatable; VALUE is parsed as JSON when it is valid "
        "JSON, else taken as a string (-o temperature=0.2 -o stop='[\"END\"]')",
    )
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    chat.add_argument("--no-reasoning", action="store_true", help="do not show the reasoning")
    chat.set_defaults(handler=_cmd_chat, subparser=chat)

    _add_batch_parser(commands, common)

    profile = commands.add_parser(
        "profile",
        parents=[common],
        help="show a model's capabilities, limits and prices",
        description="Show what the packaged models.dev catalogue knows about a model: "
        "capabilities, modalities, token limits and prices. Works offline.",
    )
    profile.add_argument("model", metavar="PROVIDER/MODEL", help="e.g. groq/openai/gpt-oss-120b")
    profile.add_argument("--json", action="store_true", help="print JSON")
    profile.set_defaults(handler=_cmd_profile, subparser=profile)
    return parser


def _add_batch_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    batch = commands.add_parser(
        "batch",
        parents=[common],
        help="run an OpenAI Batch API input file against any provider, resumably",
        description="Send every request of an OpenAI Batch API input file (JSONL lines with "
        "custom_id, method, url, body) to a model, as fast as its rate limits allow, and "
        "append the answers to OUTPUT in the OpenAI Batch output format. Run the same command "
        "again after a crash or Ctrl-C: only the custom_ids OUTPUT does not answer yet are "
        "sent. A summary goes to stderr at the end.",
        epilog="examples:\n"
        "  msgflux batch requests.jsonl -o answers.jsonl -m openai/gpt-4.1-mini\n"
        "  msgflux batch requests.jsonl -o answers.jsonl -m groq/llama-3.1-8b-instant \\\n"
        "      --requests-per-minute 500 --option temperature=0\n"
        "  msgflux batch requests.jsonl -o answers.jsonl --gateway gateway.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("input", metavar="INPUT.jsonl", type=Path, help="the requests")
    batch.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT.jsonl",
        type=Path,
        help="where the answers go (appended to; what it already answers is not sent again)",
    )
    batch.add_argument(
        "-m",
        "--model",
        metavar="PROVIDER/MODEL",
        help="the model for every request; default: each body's model, written provider/model",
    )
    batch.add_argument(
        "--gateway",
        metavar="GATEWAY.json",
        type=Path,
        help="send every request through this ModelGateway (the JSON of gateway.serialize(); "
        "keys from each provider's env var) instead of -m",
    )
    batch.add_argument("--base-url", metavar="URL", help="the API base URL (overrides the env var)")
    batch.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key (prefer the provider's env var: a key on the command line is visible "
        "to other users of this machine)",
    )
    batch.add_argument(
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model or provider option, repeatable (VALUE parsed as JSON when it is JSON)",
    )
    batch.add_argument(
        "--max-concurrency", type=int, default=64, metavar="N", help="most requests in flight"
    )
    batch.add_argument(
        "--requests-per-minute", type=float, metavar="N", help="never send more than this"
    )
    batch.add_argument(
        "--tokens-per-minute", type=float, metavar="N", help="never use more tokens than this"
    )
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="send again the requests whose output line is an error (the lines are replaced)",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    batch.set_defaults(handler=_cmd_batch, subparser=batch)


# -- msgflux plugins ----------------------------------------------------------------------------


def _cmd_plugins(args: argparse.Namespace) -> int:
    import msgflux
    from msgflux.plugins import list_plugins

    infos = list_plugins()
    if args.json:
        _write_line(json.dumps([info.to_dict() for info in infos], indent=2))
        return EXIT_OK
    rows = [["DISTRIBUTION", "VERSION", "PROVIDERS", "HOOKS", "STATUS"]]
    for info in infos:
        if info.builtin:
            distribution, version = f"{PROG} (built-in)", msgflux.__version__
        else:
            distribution, version = info.distribution or info.name, info.version or "-"
        rows.append(
            [
                distribution,
                version,
                ", ".join(info.providers) or "-",
                ", ".join(info.hooks) or "-",
                f"error: {info.error}" if info.error else "ok",
            ]
        )
    _write_line(_table(rows))
    return EXIT_OK


def _table(rows: list[list[str]]) -> str:
    # The last column (status, possibly a long error) is not padded, so it never widens the rest.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


# -- msgflux chat -------------------------------------------------------------------------------


def _cmd_chat(args: argparse.Namespace) -> int:
    import msgflux as mf
    from msgflux.errors import MissingAPIKeyError

    prompt = _read_prompt(args.prompt)
    options = _parse_options(args.options)
    for name, value in (("base_url", args.base_url), ("api_key", args.api_key)):
        if value is not None:
            options[name] = value
    call_options: dict[str, Any] = {}
    if args.system is not None:
        call_options["system_prompt"] = args.system
    if args.json_schema is not None:
        call_options["generation_schema"] = _load_json_schema(args.json_schema)

    try:
        model = mf.Model.chat_completion(args.model, **options)
    except MissingAPIKeyError as exc:
        raise MissingAPIKeyError(_missing_key_message(args.model)) from exc
    try:
        # Structured output is decoded from the whole answer; a provider without streaming
        # still answers, just not chunk by chunk.
        stream = not (
            args.no_stream or args.json_schema is not None or "streaming" not in model.supports
        )
        printer = _Printer(show_reasoning=not args.no_reasoning)
        if stream:
            asyncio.run(_stream_answer(model, prompt, call_options, printer))
        else:
            response = model(prompt, **call_options)
            printer.reasoning(response.reasoning or "")
            printer.answer(response.consume())
        printer.finish()
    finally:
        model.close()
    return EXIT_OK


async def _stream_answer(
    model: Any, prompt: str, call_options: dict[str, Any], printer: _Printer
) -> None:
    response = await model.acall(prompt, stream=True, **call_options)

    async def reasoning() -> None:
        async for chunk in response.consume_reasoning():
            printer.reasoning(chunk)

    async def content() -> None:
        async for chunk in response:
            printer.content(chunk)

    # Both channels are read at once so reasoning and answer appear in the order they arrive.
    try:
        await asyncio.gather(reasoning(), content())
    finally:
        await response.aclose()
    result = await response.aresult()
    if response.response_type == "tool_call":
        printer.answer(result)


def _missing_key_message(model_path: str) -> str:
    from msgflux.plugins import get_provider

    provider = model_path.partition("/")[0]
    env_vars = " or ".join(get_provider(provider).api_key_env) or "its API key env var"
    return f"the {provider!r} provider needs an API key: set {env_vars}, or pass --api-key"


def _read_prompt(prompt: str | None) -> str:
    if prompt is not None and prompt != "-":
        return prompt
    if prompt is None and sys.stdin is not None and sys.stdin.isatty():
        raise UsageError("no prompt: pass it as an argument, or pipe it on stdin")
    text = sys.stdin.read() if sys.stdin is not None else ""
    if not text.strip():
        raise UsageError("the prompt read from stdin is empty")
    return text


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise UsageError(f"-o expects KEY=VALUE (e.g. -o temperature=0.2), got {pair!r}")
        if key in options:
            raise UsageError(f"-o {key} is given twice")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw  # not JSON: a plain string (-o transport=sdk)
    return options


# -- --json-schema ------------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def _load_json_schema(path: Path) -> type:
    """A generation schema class for a JSON Schema file.

    The core takes ``generation_schema`` as a class. Rather than translate the JSON Schema
    into a msgspec Struct (lossy: formats, patterns, unions...), the class implements the
    core's transport-schema protocol (``__msgflux_transport_schema__``, as ``ReAct`` does):
    the file's schema goes on the wire as written, lowered to the strict subset where
    possible, and the core still checks the provider supports structured output, builds
    ``response_format``, runs the provider's ``adapt_params`` and decodes the answer.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--json-schema {path}: {exc.strerror or exc}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--json-schema {path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UsageError(f"--json-schema {path}: a JSON Schema must be an object")
    name = None
    # Accept OpenAI's wrapper too: {"name": ..., "schema": {...}, "strict": ...}.
    if isinstance(document.get("schema"), dict) and "properties" not in document:
        name = document.get("name")
        document = document["schema"]
    if document.get("type", "object") != "object":
        raise UsageError(
            f"--json-schema {path}: the answer must be a JSON object; the schema's type is "
            f"{document.get('type')!r}"
        )
    name = name or document.get("title") or path.stem
    return _schema_class(document, _NAME_CHARS.sub("_", str(name))[:64] or "schema")


def _schema_class(schema: dict[str, Any], name: str) -> type:
    from msgflux.generation.json_schema import json_schema_class

    return json_schema_class(schema, name)


# -- output --------------------------------------------------------------------------------------


class _Printer:
    """Writes the answer to stdout and the reasoning dimmed (terminal) or to stderr."""

    def __init__(self, *, show_reasoning: bool) -> None:
        self.show_reasoning = show_reasoning
        self.out: IO[str] = sys.stdout
        color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        if sys.stdout.isatty() and color:
            self.reasoning_stream: IO[str] = sys.stdout
            self.dim = True
        else:
            self.reasoning_stream = sys.stderr
            self.dim = color and sys.stderr.isatty()
        self._last: dict[int, str] = {}  # last character written, per stream
        self._in_reasoning = False

    def _write(self, stream: IO[str], text: str) -> None:
        if text:
            stream.write(text)
            stream.flush()
            self._last[id(stream)] = text[-1]

    def _end_line(self, stream: IO[str]) -> None:
        if self._last.get(id(stream), "\n") != "\n":
            self._write(stream, "\n")

    def reasoning(self, chunk: str) -> None:
        if not self.show_reasoning or not chunk:
            return
        self._in_reasoning = True
        self._write(self.reasoning_stream, f"{_DIM}{chunk}{_UNDIM}" if self.dim else chunk)
        if self.dim:
            self._last[id(self.reasoning_stream)] = chunk[-1]

    def _leave_reasoning(self) -> None:
        if self._in_reasoning:
            self._in_reasoning = False
            self._end_line(self.reasoning_stream)
            if self.reasoning_stream is self.out:
                self._write(self.out, "\n")  # a blank line between thoughts and answer

    def content(self, chunk: str) -> None:
        if chunk:
            self._leave_reasoning()
            self._write(self.out, chunk)

    def answer(self, data: Any) -> None:
        """A whole answer: text as is, anything else (structured, tool calls) as JSON."""
        self._leave_reasoning()
        if isinstance(data, str):
            self._write(self.out, data)
            return
        if hasattr(data, "get_calls"):  # a ToolCallAggregator
            data = data.get_calls()
        indent = 2 if self.out.isatty() else None
        self._write(self.out, json.dumps(data, indent=indent, ensure_ascii=False, default=str))

    def finish(self) -> None:
        self._leave_reasoning()
        self._end_line(self.out)


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# -- msgflux batch ------------------------------------------------------------------------------


def _cmd_batch(args: argparse.Namespace) -> int:
    from msgflux.batch.jobs import run_file
    from msgflux.batch.openai_files import FileFormatError
    from msgflux.errors import MissingAPIKeyError

    gateway = None if args.gateway is None else _load_gateway(args)
    options = _parse_options(args.options)
    for name, value in (("base_url", args.base_url), ("api_key", args.api_key)):
        if value is not None:
            options[name] = value
    try:
        summary = run_file(
            args.input,
            args.output,
            model=args.model,
            model_options=options,
            gateway=gateway,
            retry_failed=args.retry_failed,
            max_concurrency=args.max_concurrency,
            requests_per_minute=args.requests_per_minute,
            tokens_per_minute=args.tokens_per_minute,
            progress=False if args.no_progress else None,
            on_start=_report_resume,
        )
    except FileFormatError as exc:
        raise UsageError(f"{args.input}: {exc}") from exc
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except MissingAPIKeyError as exc:
        if gateway is not None:
            raise
        raise MissingAPIKeyError(_missing_key_message(args.model or "")) from exc
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; the answers so far are in {args.output}: run the same "
            "command again to send the rest",
            file=sys.stderr,
        )
        raise
    finally:
        if gateway is not None:
            gateway.close()
    print(_describe_batch(summary, args.output), file=sys.stderr)
    return EXIT_FAILURE if summary.failed else EXIT_OK


def _load_gateway(args: argparse.Namespace) -> Any:
    """The ``ModelGateway`` of ``--gateway``: keys from each provider's env var."""
    given = (
        ("-m", args.model),
        ("--base-url", args.base_url),
        ("--api-key", args.api_key),
        ("--option", args.options or None),
    )
    clashing = [flag for flag, value in given if value is not None]
    if clashing:
        raise UsageError(
            f"--gateway cannot be combined with {', '.join(clashing)}: the gateway file sets "
            "each deployment's model, base URL and options (edit it, or serialize another "
            "gateway), and the keys come from each provider's env var"
        )
    from msgflux.errors import MissingAPIKeyError
    from msgflux.gateway import ModelGateway

    path = args.gateway
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from exc
    try:
        return ModelGateway.from_serialized(data)
    except MissingAPIKeyError as exc:
        raise MissingAPIKeyError(f"{path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: {exc}") from exc


def _report_resume(summary: Any) -> None:
    if summary.already_done:
        left = summary.total - summary.already_done
        print(
            f"{PROG}: resuming: {summary.already_done} of {summary.total} requests already "
            f"answered, {left} to send",
            file=sys.stderr,
        )


def _describe_batch(summary: Any, output: Path) -> str:
    if summary.cost is None:
        cost = "cost unknown (no price in the model profile)"
    else:
        cost = f"cost ${summary.cost:.6f} (model profile prices)"
    answered = summary.already_done + summary.done
    return (
        f"{PROG}: {answered} of {summary.total} requests answered in {output} "
        f"({summary.done} by this run, {summary.already_done} before); "
        f"failed {summary.failed}; rate-limit retries {summary.rate_limited}; "
        f"tokens {summary.prompt_tokens:,} prompt + {summary.completion_tokens:,} completion; "
        f"{cost}; {summary.elapsed:.1f}s{_per_deployment(summary)}"
    )


def _per_deployment(summary: Any) -> str:
    if not summary.deployments:
        return ""
    counts = ", ".join(f"{name} {count}" for name, count in sorted(summary.deployments.items()))
    return f"; answers per deployment: {counts}"


# -- msgflux profile ----------------------------------------------------------------------------


def _cmd_profile(args: argparse.Namespace) -> int:
    import msgspec

    from msgflux.models.profiles import get_model_profile

    provider, sep, model_id = args.model.partition("/")
    if not sep:
        provider, model_id = "", args.model
    if not model_id:
        raise UsageError(f"expected PROVIDER/MODEL, got {args.model!r}")
    profile = get_model_profile(model_id, provider_id=provider or None)
    if profile is None:
        where = f" at provider {provider!r}" if provider else ""
        _fail(
            f"no profile known for model {model_id!r}{where} (msgflux profile uses the "
            "models.dev catalogue; see `msgflux.models.profiles.refresh_profiles`)"
        )
    if args.json:
        _write_line(json.dumps(msgspec.to_builtins(profile), indent=2))
        return EXIT_OK
    _write_line(_describe_profile(args.model, profile))
    return EXIT_OK


def _describe_profile(label: str, profile: Any) -> str:
    def price(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    def count(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    capabilities = [name for name, on in _fields(profile.capabilities) if on]
    cost = profile.cost
    rows: list[tuple[str, str]] = [
        ("capabilities", ", ".join(capabilities) or "-"),
        (
            "modalities",
            f"input {', '.join(profile.modalities.input) or '-'}; "
            f"output {', '.join(profile.modalities.output) or '-'}",
        ),
        (
            "limits",
            f"context {count(profile.limits.context)}, input {count(profile.limits.input)}, "
            f"output {count(profile.limits.output)} tokens",
        ),
        (
            "cost",
            f"USD per 1M tokens: input {price(cost.input_per_million)}, output "
            f"{price(cost.output_per_million)}, cache read {price(cost.cache_read_per_million)}, "
            f"cache write {price(cost.cache_write_per_million)}",
        ),
        ("open weights", "yes" if profile.open_weights else "no"),
    ]
    for title, value in (
        ("family", profile.family),
        ("released", profile.release_date),
        ("base model", profile.base_model),
        ("derived from", profile.derived_from),
    ):
        if value:
            rows.append((title, value))
    width = max(len(title) for title, _ in rows)
    head = f"{label}  ({profile.name})" if profile.name and profile.name != label else label
    return "\n".join([head, *(f"  {title.ljust(width)}  {value}" for title, value in rows)])


def _fields(struct: Any) -> list[tuple[str, Any]]:
    return [(name, getattr(struct, name)) for name in struct.__struct_fields__]


def _fail(message: str) -> NoReturn:
    from msgflux.errors import MsgfluxError

    raise MsgfluxError(message)


if __name__ == "__main__":  # python -m msgflux.cli
    sys.exit(main())
