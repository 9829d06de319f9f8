"""IPython and ipywidgets: the extension, its settings, the magic, the panel, the views and every HTML
string they show."""
