"""Switchboard's settings: the one place they are read and validated.

```python
from switchboard.config import load_settings
settings = load_settings()            # environment + .env: the "default" profile
acme = load_settings("acme")          # [profiles.acme] in switchboard.toml over the default
```
"""

from switchboard.config.errors import ConfigError
from switchboard.config.loader import load_settings
from switchboard.config.secret import Secret
from switchboard.config.settings import Settings

__all__ = ["ConfigError", "Secret", "Settings", "load_settings"]
