"""The Gradio chat, one module per job: ``app`` (create_app, serve, launch), ``events`` (what
each click does), ``handlers`` (asking, citations, feedback, export over a ``Holder``),
``render`` (escaped HTML), ``turns`` (``schema.Turn``s to and from the browser), ``export``
(Markdown and Copy text),
``uploads`` (checking, adding and removing documents), ``indexing`` (an upload's progress,
the notice to other users, Sources), ``docview`` (the whole-document view), ``pdfpage``
(the cited PDF page with the quote boxed), ``server`` (the HTTP guard, login throttle) and
``assets`` (theme, CSS, page scripts). Importing it loads no Gradio."""
