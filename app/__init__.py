"""The workshop app: a Solara page on top of the model (``python -m app``; see docs/app.md).

Modules: ``page`` (the Page component), ``controls``, ``map_view``, ``charts``, ``compare``, ``export``,
``state`` (one model per browser session), ``i18n`` (every UI string in English and Chinese),
``fonts`` (matplotlib Agg + CJK font), ``__main__`` (the server command line).
"""
