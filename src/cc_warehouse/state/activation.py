"""Which published version readers see: the `published` link, switched in one rename.

`<state>/published` is a link to one complete version under `<state>/published.versions/`;
`activate` points it at another version and keeps the one before (a reader may still hold
it open), removing older ones.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from cc_warehouse import config
from cc_warehouse.state.files import StateError, fsync_path


def current_version(settings: config.Settings) -> Path | None:
    link = settings.published_dir
    if link.is_symlink():
        return settings.published_versions_dir / Path(os.readlink(link)).name
    return None


def activate(settings: config.Settings, version: Path) -> None:
    """Switch the `published` link to `version` in one rename; keep one older version."""
    link = settings.published_dir
    previous = current_version(settings)
    if previous == version:
        return  # already done (an interrupted commit being finished)
    if not link.is_symlink() and link.is_dir():
        # The layout before versions: the folder itself becomes the previous version.
        previous = settings.published_versions_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-unversioned"
        os.rename(link, previous)
    elif not link.is_symlink() and link.exists():
        raise StateError(f"{link} is in the way (neither a folder nor a link)")
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    temporary.symlink_to(Path(settings.published_versions_dir.name) / version.name)
    os.replace(temporary, link)
    fsync_path(link.parent)
    keep = {version.name, previous.name if previous else None}
    for old in settings.published_versions_dir.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
