"""Bytes over aiohttp: one session per event loop, deadlines, whole-body reads, same-origin redirects,
SSE framing, and aiohttp's errors translated to the project's in one place. Knows nothing of Gradio."""
