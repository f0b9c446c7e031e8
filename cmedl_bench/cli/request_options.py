"""The training verbs' command-line options, generated from the run request's table
(:data:`cmedl_bench.request.FIELDS`): a verb declares ``request: RunRequest`` and its own options; the decorator
adds one Typer option per field the verb offers and hands the verb the built request."""

from __future__ import annotations

import functools
import inspect
import typing

import typer

from cmedl_bench.request import FIELDS, RequestField, RunRequest, fields_of
from cmedl_bench.settings import results_dir


def _option(f: RequestField) -> typer.models.OptionInfo:
    default = results_dir() if f.name == "results" else f.default
    return typer.Option(default, *([f.flag] if f.flag else []), help=f.help)


def table_option(name: str) -> typer.models.OptionInfo:
    """The Typer option of the table's field ``name``, for a verb outside the run request that offers it too."""
    return _option(next(f for f in FIELDS if f.name == name))


def request_command(verb: str):
    """Decorate a verb whose parameter ``request`` is a :class:`RunRequest`: its command line gains the options of
    :func:`cmedl_bench.request.fields_of` ``(verb)``."""
    offered = fields_of(verb)

    def decorate(func):
        hints = typing.get_type_hints(func)
        own = [p.replace(annotation=hints.get(p.name, p.annotation), kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(func).parameters.values() if p.name != "request"]
        generated = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=_option(f),
                                       annotation=f.type) for f in offered]

        @functools.wraps(func)
        def command(**values):
            request = RunRequest.build(**{f.name: values.pop(f.name) for f in offered})
            return func(request=request, **values)

        params = generated + own  # the request's options first, in table order
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
