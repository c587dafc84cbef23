"""`hjulet nlu`: try and measure the understanding layer from the command line.

echo "he is scared to go home" | hjulet nlu parse
hjulet nlu eval nlu/eval            # a Rasa NLU file, or a folder of them
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group(help="The understanding layer: language, intent and risk of what families write.")
def nlu() -> None:
    pass


@nlu.command(help="Read one message per line from stdin; write one JSON object per line.")
@click.option("--lang", default=None, help="The family's current language (a hint for short texts).")
def parse(lang: str | None) -> None:
    from nlu import Understanding

    understanding = Understanding.load()
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        result = understanding.parse(text, lang)
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))


@nlu.command(name="eval", help="Measure on held-out Rasa NLU files; exit 1 below the floors.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--show-errors", is_flag=True, help="Also list missed risks, false alarms and wrong intents.")
def evaluate_command(paths: tuple[Path, ...], show_errors: bool) -> None:
    from nlu import Understanding
    from nlu.evaluation import evaluate, table
    from nlu.examples import eval_examples

    try:
        examples = eval_examples(paths)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not examples:
        raise click.ClickException("no examples with a known intent, risk category or benign label")
    understanding = Understanding.load()
    report = evaluate(understanding.parse, examples)
    click.echo(table(report))
    if show_errors:
        for example in report.missed:
            click.echo(f"missed risk   [{example.language}] {example.label}: {example.text}")
        for example, result in report.false_alarms:
            click.echo(f"false alarm   [{example.language}] {result.risk_categories}: {example.text}")
        for example, predicted in report.confused:
            click.echo(f"wrong intent  [{example.language}] {example.label} -> {predicted}: {example.text}")
    failures = report.failures()
    if failures:
        click.echo("\nBELOW THE FLOORS: " + "; ".join(failures), err=True)
        sys.exit(1)
    click.echo("\nall floors met")
