"""The static knowledge site: `isg site build`.

The build is a recipe: gather every public record and the SLA state at `at` (`pages`), render
every page with the one Jinja2 environment (`builder`), then write them all to a temporary
folder and swap it in. Nothing reads the clock: `at` is given.
"""
