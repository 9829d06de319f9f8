"""The Gradio queue protocol (4, 5 and 6): messages to events, file data and URLs, functions found by
name in ``/config``, the session stream shared by concurrent events, join / upload / cancel.
Knows nothing of Hugging Face or of models."""
