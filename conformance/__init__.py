"""Contract conformance for the four vendor APIs, against any implementation over HTTP.

The suite never imports the mock: it judges whatever answers at ``--base-url`` by the
specs alone, so the same run qualifies a vendor's sandbox, a staging copy or our mock.
"""

__version__ = "0.1.0"
