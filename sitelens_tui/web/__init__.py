"""`sitelens web`: the same Textual dashboard in a browser tab (textual-serve), only after a login."""
