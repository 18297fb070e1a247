"""``mf.ChatBlock``: builders for chat messages and their content parts (OpenAI's shapes)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pathlib, base64 and mimetypes load when a media block is built
    from pathlib import Path

__all__ = ["ChatBlock"]

_URL_PREFIXES = ("http://", "https://", "data:")


def _data_url(source: str | bytes | Path, default_mime: str) -> str:
    """A URL for ``source``: URLs pass through; bytes and file paths become data URLs."""
    if isinstance(source, str) and source.startswith(_URL_PREFIXES):
        return source
    import base64
    import mimetypes
    from pathlib import Path

    if isinstance(source, bytes):
        payload, mime = source, default_mime
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"{source!s} is neither an http(s)/data URL nor a readable file"
            )
        payload = path.read_bytes()
        mime = mimetypes.guess_type(path.name)[0] or default_mime
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def _base64(source: str | bytes | Path) -> tuple[str, str | None]:
    """Base64 text and the file suffix (format) for raw bytes, a path, or base64 already."""
    import base64
    from pathlib import Path

    if isinstance(source, bytes):
        return base64.b64encode(source).decode(), None
    path = Path(source)
    if isinstance(source, Path) or (len(str(source)) < 4096 and path.is_file()):
        return base64.b64encode(path.read_bytes()).decode(), path.suffix.lstrip(".") or None
    return str(source), None  # already base64


class ChatBlock:
    """Builders for chat messages (``user``, ``system``, ``tool``...) and media parts."""

    # -- messages ----------------------------------------------------------------------------

    @staticmethod
    def user(
        content: str | list[dict[str, Any]],
        media: dict[str, Any] | list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user message; ``media`` parts (``ChatBlock.image(...)`` etc.) follow the text."""
        if media is None:
            return {"role": "user", "content": content}
        parts = media if isinstance(media, list) else [media]
        text_parts = [ChatBlock.text(content)] if isinstance(content, str) else list(content)
        return {"role": "user", "content": [*text_parts, *parts]}

    @staticmethod
    def system(content: str) -> dict[str, Any]:
        """A system message."""
        return {"role": "system", "content": content}

    @staticmethod
    def assist(content: str) -> dict[str, Any]:
        """An assistant message (earlier answers in a conversation)."""
        return {"role": "assistant", "content": content}

    @staticmethod
    def tool(tool_call_id: str, content: Any) -> dict[str, Any]:
        """A tool result for ``tool_call_id``; non-str results are JSON-encoded (``0`` kept)."""
        text = (
            content
            if isinstance(content, str)
            else json.dumps(content, ensure_ascii=False, default=str)
        )
        return {"role": "tool", "tool_call_id": tool_call_id, "content": text}

    @staticmethod
    def tool_call(id: str, name: str, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """One tool call, for ``assist_tool_calls`` (arguments are sent as a JSON string)."""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}

    @staticmethod
    def assist_tool_calls(
        tool_calls: list[dict[str, Any]], content: str | None = None
    ) -> dict[str, Any]:
        """The assistant message that made ``tool_calls`` (built with ``ChatBlock.tool_call``)."""
        return {"role": "assistant", "content": content, "tool_calls": list(tool_calls)}

    # -- content parts -----------------------------------------------------------------------

    @staticmethod
    def text(text: str) -> dict[str, Any]:
        """A text part."""
        return {"type": "text", "text": text}

    @staticmethod
    def image(url: str | bytes | Path, detail: str | None = None) -> dict[str, Any]:
        """An image part from a URL, a data URL, a file path or raw bytes."""
        image_url: dict[str, Any] = {"url": _data_url(url, "image/png")}
        if detail is not None:
            image_url["detail"] = detail
        return {"type": "image_url", "image_url": image_url}

    @staticmethod
    def audio(data: str | bytes | Path, format: str | None = None) -> dict[str, Any]:
        """An input audio part (base64 ``wav``/``mp3``) from bytes, a path or base64 text."""
        encoded, suffix = _base64(data)
        audio_format = format or suffix
        if audio_format is None:
            raise ValueError("audio needs its format: ChatBlock.audio(data, format='wav')")
        return {"type": "input_audio", "input_audio": {"data": encoded, "format": audio_format}}

    @staticmethod
    def file(
        data: str | bytes | Path | None = None,
        *,
        filename: str | None = None,
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """A file part (e.g. a PDF): inline data (sent as a data URL) or an uploaded ``file_id``."""
        import mimetypes
        from pathlib import Path

        if (data is None) == (file_id is None):
            raise ValueError("ChatBlock.file needs exactly one of data= or file_id=")
        file: dict[str, Any] = {}
        if file_id is not None:
            file["file_id"] = file_id
        elif data is not None:  # always, after the check above
            if filename is None and isinstance(data, str | Path) and Path(data).is_file():
                filename = Path(data).name
            file["file_data"] = _data_url(
                data, mimetypes.guess_type(filename or "")[0] or "application/pdf"
            )
        if filename is not None:
            file["filename"] = filename
        return {"type": "file", "file": file}

    @staticmethod
    def video(url: str | bytes | Path) -> dict[str, Any]:
        """A video part (``video_url``, as vLLM and other multimodal servers accept it)."""
        return {"type": "video_url", "video_url": {"url": _data_url(url, "video/mp4")}}
