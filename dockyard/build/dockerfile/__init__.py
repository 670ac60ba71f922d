"""Dockerfile parsing, as BuildKit's Dockerfile frontend does it.

Public API (import from the submodules; this package imports nothing eagerly):

- ``stages.parse_dockerfile(text, filename="Dockerfile") -> Dockerfile`` — the
  whole thing: ``.stages`` (``Stage``: ``.index``, ``.name`` (lowercased AS name
  or ""), ``.from_`` (``From``), ``.commands``), ``.global_args`` (the ``Arg``
  instructions before the first FROM), ``.directives`` (``{"syntax": …,
  "escape": …, "check": …}`` as given), ``.escape_token``, ``.warnings``,
  ``.ast``. ``Dockerfile.plan(build_args, target=, target_platform=,
  build_platform=) -> BuildPlan`` resolves the global ARGs, each stage's base
  (image or earlier stage), its dependencies (FROM <stage>, COPY --from,
  RUN --mount from=), the stages ``--target`` needs (``.needed``, dependencies
  first) and ``.levels`` (groups that can build in parallel).
  ``parse_onbuild_trigger(expr)`` parses an inherited ONBUILD trigger.
- ``parser.parse(text) -> ParseResult`` (``.ast``: BuildKit's ``Node`` tree) and
  ``parser.dump(ast) -> str`` (BuildKit's test ``result`` format).
- ``instructions``: one class per instruction — ``From``, ``Run`` (``.mounts``:
  ``Mount``; ``.network``; ``.security``), ``Cmd``, ``Entrypoint``, ``Shell``,
  ``Label``, ``Maintainer``, ``Expose``, ``Env``, ``Add``, ``Copy``, ``Volume``,
  ``User``, ``Workdir``, ``Arg``, ``Onbuild``, ``StopSignal``, ``Healthcheck``
  (``Health``) — each with ``.keyword``, ``.original``, ``.start_line``,
  ``.end_line`` and ``.expand(Expander(env, escape_token))`` returning a copy
  with variables expanded as BuildKit does for that instruction; the
  ``Expander`` records ``.used`` variables (for cache keys).
- ``shell_lex``: ``Lex(escape).process_word(word, env)`` /
  ``.process_words(word, env)`` (BuildKit's ``ProcessWord``/``ProcessWords``),
  ``expand_word``/``expand_words`` shortcuts.
- ``errors.DockerfileParseError`` (an ``InvalidArgument``): ``.line``,
  ``.end_line``, ``.instruction``, ``.filename``, ``.detail``; its message is
  ``dockerfile parse error on line N: <BuildKit's message>``.
"""
