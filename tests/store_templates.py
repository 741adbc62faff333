"""Stores built once per test worker and copied into each test's own store.

Opening a fresh store runs every migration (0.5 s on SQLite, 1.7 s on PostgreSQL) and a demo
store with its rollups takes 3-8 s more; hundreds of tests start from the same one. A template is
built the first time a worker asks for it, then copied: a file copy on SQLite, its tables and
sequences created in the test's own schema on PostgreSQL (0.2 s). The copy is the template's
data and schema exactly, so a test sees what it would have built itself.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from store import StoreSettings, open_store
from store import db as store_db

SCHEMA_OPTION = "-csearch_path="


def schema_of(url: str) -> str:
    """The PostgreSQL schema a test URL's search_path names (see conftest._pg_schema_url)."""
    options = unquote(make_url(url).query.get("options", ""))
    if not options.startswith(SCHEMA_OPTION):
        raise ValueError(f"not a test schema URL: {url}")
    return options[len(SCHEMA_OPTION):]


def _forget(url: str) -> None:
    engine = store_db._ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def _moved(definition: str, template: str, schema: str) -> str:
    """A constraint's or an index's definition naming the copy's tables instead of the template's."""
    return definition.replace(f'"{template}".', f'"{schema}".').replace(f"{template}.", f'"{schema}".')


class Templates:
    """Templates by (backend, name), built on first use by `build(engine)` over a fresh store."""

    def __init__(self, folder: Path, pg_url: str, schema_url: Callable[[str], str]):
        self.folder, self.pg_url, self.schema_url = folder, pg_url, schema_url
        self.built: dict[tuple[str, str], str] = {}  # -> SQLite file or PostgreSQL schema
        self.pg_layout: dict[str, tuple] = {}

    def fill(self, backend: str, url: str, name: str, build: Callable[[Engine], object]) -> None:
        """Make the (empty, not yet opened) store at `url` a copy of template `name`."""
        key = (backend, name)
        if key not in self.built:
            self.built[key] = self._build(backend, name, build)
        if backend == "sqlite":
            target = Path(make_url(url).database)
            if target.exists():
                raise RuntimeError(f"{target} exists already: a template is copied into a new store only")
            shutil.copyfile(self.built[key], target)
        else:
            self._copy_schema(self.built[key], schema_of(url))

    def _build(self, backend: str, name: str, build: Callable[[Engine], object]) -> str:
        if backend == "sqlite":
            path = self.folder / f"template-{name}.db"
            url = f"sqlite:///{path}"
        else:
            path = f"ns_tmpl_{uuid.uuid4().hex[:12]}"
            admin = create_engine(self.pg_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{path}"'))
            admin.dispose()
            url = self.schema_url(path)
        engine = open_store(StoreSettings(url, f"test template {name}"))
        build(engine)
        if backend == "sqlite":
            with engine.connect() as conn:  # everything in the file itself, the log empty
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        _forget(url)
        return str(path)

    def _layout(self, schema: str):
        """(tables, [(sequence, table, column, last value)], constraints, indexes) of a template schema."""
        if schema not in self.pg_layout:
            admin = create_engine(self.pg_url)
            with admin.connect() as conn:
                tables = list(conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"), {"s": schema}).scalars())
                sequences = [tuple(r) for r in conn.execute(text(
                    "SELECT s.relname, t.relname, a.attname, q.last_value "
                    "FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
                    "JOIN pg_class t ON t.oid = d.refobjid "
                    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
                    "JOIN pg_namespace n ON n.oid = s.relnamespace "
                    "JOIN pg_sequences q ON q.schemaname = n.nspname AND q.sequencename = s.relname "
                    "WHERE n.nspname = :s"), {"s": schema})]
                # keys and unique constraints by their names, then the other indexes by theirs
                constraints = list(conn.execute(text(
                    "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE n.nspname = :s AND c.contype IN ('p', 'u', 'f') "
                    "ORDER BY c.contype = 'f', t.relname, c.conname"), {"s": schema}))
                indexes = list(conn.execute(text(
                    "SELECT i.indexdef FROM pg_indexes i WHERE i.schemaname = :s AND NOT EXISTS ("
                    "SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE n.nspname = :s AND c.conname = i.indexname) ORDER BY i.indexname"), {"s": schema}).scalars())
            admin.dispose()
            self.pg_layout[schema] = (tables, sequences, constraints, indexes)
        return self.pg_layout[schema]

    def _copy_schema(self, template: str, schema: str) -> None:
        tables, sequences, constraints, indexes = self._layout(template)
        sql = []
        for t in tables:  # columns, defaults and checks; keys and indexes below, named as they are
            sql.append(f'CREATE TABLE "{schema}"."{t}" (LIKE "{template}"."{t}" INCLUDING DEFAULTS '
                       "INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)")
            sql.append(f'INSERT INTO "{schema}"."{t}" SELECT * FROM "{template}"."{t}"')
        for seq, table, column, last in sequences:  # the copy's own sequences, where the template's stand
            sql.append(f'CREATE SEQUENCE "{schema}"."{seq}" OWNED BY "{schema}"."{table}"."{column}"')
            sql.append(f'ALTER TABLE "{schema}"."{table}" ALTER COLUMN "{column}" '
                       f"SET DEFAULT nextval('\"{schema}\".\"{seq}\"')")
            if last is not None:
                sql.append(f"SELECT setval('\"{schema}\".\"{seq}\"', {int(last)})")
        for table, name, definition in constraints:
            sql.append(f'ALTER TABLE "{schema}"."{table}" ADD CONSTRAINT "{name}" ' + _moved(definition, template, schema))
        sql.extend(_moved(definition, template, schema) for definition in indexes)
        admin = create_engine(self.pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(";\n".join(sql))
        admin.dispose()

    def drop(self) -> None:
        schemas = [path for (backend, _), path in self.built.items() if backend != "sqlite"]
        if schemas:
            admin = create_engine(self.pg_url)
            with admin.begin() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
