"""Switchboard's settings: the one place they are read and validated.

```python
from config import load_settings
settings = load_settings()            # environment + .env: the "default" profile
acme = load_settings("acme")          # [profiles.acme] in switchboard.toml over the default
```
"""

from config.errors import ConfigError
from config.loader import load_settings
from config.secret import Secret
from config.settings import Settings

__all__ = ["ConfigError", "Secret", "Settings", "load_settings"]
