"""``mf.ChatBlock`` builds messages and content parts in OpenAI's shapes."""

from __future__ import annotations

import base64

import pytest

import msgflux as mf
from msgflux import ChatBlock


def test_text_messages():
    assert ChatBlock.user("hi") == {"role": "user", "content": "hi"}
    assert ChatBlock.system("be brief") == {"role": "system", "content": "be brief"}
    assert ChatBlock.assist("ok") == {"role": "assistant", "content": "ok"}


def test_user_with_one_or_several_media():
    image = ChatBlock.image("https://example.com/cat.jpg", detail="low")
    assert image == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"},
    }
    one = ChatBlock.user("Describe", media=image)
    assert one["content"] == [{"type": "text", "text": "Describe"}, image]
    two = ChatBlock.user("Compare", media=[image, ChatBlock.image("https://example.com/dog.jpg")])
    assert len(two["content"]) == 3


def test_local_files_and_bytes_become_data_urls(tmp_path):
    path = tmp_path / "pixel.png"
    path.write_bytes(b"\x89PNG fake")
    url = ChatBlock.image(str(path))["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == b"\x89PNG fake"
    assert (
        ChatBlock.image(b"raw")["image_url"]["url"]
        == "data:image/png;base64," + base64.b64encode(b"raw").decode()
    )
    with pytest.raises(FileNotFoundError, match="neither"):
        ChatBlock.image(str(tmp_path / "missing.png"))


def test_audio_file_and_video_parts(tmp_path):
    wav = tmp_path / "hello.wav"
    wav.write_bytes(b"RIFF")
    assert ChatBlock.audio(str(wav)) == {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(b"RIFF").decode(), "format": "wav"},
    }
    with pytest.raises(ValueError, match="format"):
        ChatBlock.audio(b"RIFF")
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF")
    part = ChatBlock.file(str(pdf))
    assert part["file"]["filename"] == "doc.pdf"
    assert part["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert ChatBlock.file(file_id="file-1") == {"type": "file", "file": {"file_id": "file-1"}}
    assert ChatBlock.video("https://example.com/v.mp4") == {
        "type": "video_url",
        "video_url": {"url": "https://example.com/v.mp4"},
    }
    assert ChatBlock.text("t") == {"type": "text", "text": "t"}


def test_tool_messages():
    call = ChatBlock.tool_call("call_1", "add", {"a": 1})
    assert call == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": 1}'},
    }
    assert ChatBlock.assist_tool_calls([call]) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call],
    }
    assert ChatBlock.tool("call_1", 0) == {"role": "tool", "tool_call_id": "call_1", "content": "0"}
    assert ChatBlock.tool("call_1", "") == {"role": "tool", "tool_call_id": "call_1", "content": ""}


def test_blocks_feed_a_model_unchanged():
    model = mf.Model.chat_completion("fake/echo")
    messages = [
        ChatBlock.system("s"),
        ChatBlock.user("Describe", media=ChatBlock.image("https://e.com/x.png")),
    ]
    assert model(messages).consume() == "Describe"
    assert model.client.requests[-1]["messages"] == messages
