"""Mints keys with djangorestframework-api-key itself, for the crate's DRF tests.

    python mint_keys.py --sqlite PATH --out keys.json
    python mint_keys.py --postgres postgresql://user@host:port/db --out keys.json
    python mint_keys.py --mysql mysql://user@host:port/db --out keys.json
    python mint_keys.py --postgres ... --verify rust-keys.json

    python mint_keys.py --sqlite PATH --act revoke:PREFIX delete:PREFIX expire:PREFIX
    python mint_keys.py --sqlite PATH --out keys.json --legacy   # with a DRF before 3.0

With --legacy (run by a virtualenv holding djangorestframework-api-key 2.x,
tests/drf/requirements-legacy.txt), the keys are hashed as DRF hashed them
before 3.0: with Django's password hashers, one key per hasher (PBKDF2, the
default; PBKDF2-SHA1; Argon2; BCrypt-SHA256; BCrypt), plus revoked and
expired ones. Each row names its hasher.

With --act, mints nothing: Django changes the keys with those prefixes the way
its admin would (`revoked = True` and `save()`, `delete()`, an expiry moved
to yesterday and `save()`), for the crate's tests of change triggers.

With --verify, mints nothing: it checks that DRF gives the keys listed in the
file (keys the crate created or revoked in DRF's table) the verdicts listed
there, and exits non-zero if it does not.

Creates DRF's table through Django's own migrations (dropping any keys already
there), mints keys through `APIKey.objects.create_key` (valid, far-future
expiry, expired, revoked, awkward names), and records, for each key and a few
wrong ones, whether DRF itself accepts it (`APIKey.objects.is_valid`). The
crate's tests must accept exactly those.
"""
import argparse
import datetime
import json
import sys
from urllib.parse import urlparse

import django
from django.conf import settings


def configure(args):
    if args.sqlite:
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": args.sqlite}
    elif args.mysql:
        # PyMySQL stands in for mysqlclient (no C build); Django checks the
        # version of the driver it thinks it has.
        import pymysql

        pymysql.version_info = (2, 2, 1, "final", 0)
        pymysql.install_as_MySQLdb()
        url = urlparse(args.mysql)
        database = {
            "ENGINE": "django.db.backends.mysql",
            "NAME": url.path.lstrip("/"),
            "USER": url.username or "root",
            "PASSWORD": url.password or "",
            "HOST": url.hostname or "127.0.0.1",
            "PORT": str(url.port or 3306),
            "OPTIONS": {"charset": "utf8mb4"},
        }
    else:
        url = urlparse(args.postgres)
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": url.username or "postgres",
            "PASSWORD": url.password or "",
            "HOST": url.hostname or "127.0.0.1",
            "PORT": str(url.port or 5432),
        }
    extra = {}
    if getattr(args, "legacy", False):
        # Every hasher the keys are minted with must be listed to verify them.
        extra["PASSWORD_HASHERS"] = ["django.contrib.auth.hashers." + h for h in LEGACY_HASHERS]
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "rest_framework", "rest_framework_api_key"],
        DATABASES={"default": database},
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        **extra,
    )
    django.setup()


# Django's password hashers a DRF before 3.0 may have hashed keys with.
LEGACY_HASHERS = [
    "PBKDF2PasswordHasher",
    "PBKDF2SHA1PasswordHasher",
    "Argon2PasswordHasher",
    "BCryptSHA256PasswordHasher",
    "BCryptPasswordHasher",
]


def main():
    parser = argparse.ArgumentParser()
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite")
    target.add_argument("--postgres")
    target.add_argument("--mysql")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--out")
    action.add_argument("--verify")
    action.add_argument("--act", nargs="+", metavar="WHAT:PREFIX")
    parser.add_argument("--legacy", action="store_true")
    args = parser.parse_args()
    configure(args)
    if args.verify:
        sys.exit(verify(args.verify))
    if args.act:
        sys.exit(act(args.act))

    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework_api_key.models import APIKey

    call_command("migrate", verbosity=0)
    APIKey.objects.all().delete()
    if args.legacy:
        return mint_legacy(args.out)

    now = timezone.now()
    cases = [
        ("valid", {}),
        ("far future expiry", {"expiry_date": datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)}),
        ("expired yesterday", {"expiry_date": now - datetime.timedelta(days=1)}),
        ("expired long ago", {"expiry_date": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)}),
        ("revoked", {"revoked": True}),
        ("revoked and expired", {"revoked": True, "expiry_date": now - datetime.timedelta(hours=1)}),
        ("O'Brien \"quoted\" 名前 🔑", {}),
        ("'; DROP TABLE rest_framework_api_key_apikey; --", {}),
    ]
    keys = []
    for name, fields in cases:
        _, key = APIKey.objects.create_key(name=name, **fields)
        keys.append({"name": name, "key": key, "accepted": APIKey.objects.is_valid(key)})

    # Wrong keys: a valid prefix with a changed secret, and an unknown prefix.
    valid = keys[0]["key"]
    prefix, _, secret = valid.partition(".")
    altered = prefix + "." + secret[:-1] + ("A" if secret[-1] != "A" else "B")
    unknown = ("Z" if prefix[0] != "Z" else "Y") + prefix[1:] + "." + secret
    for name, key in [("altered secret", altered), ("unknown prefix", unknown)]:
        keys.append({"name": name, "key": key, "accepted": APIKey.objects.is_valid(key)})

    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(keys, out, ensure_ascii=False, indent=1)
    accepted = sum(k["accepted"] for k in keys)
    print(f"minted {len(cases)} keys with DRF; DRF accepts {accepted} of {len(keys)} presented", file=sys.stderr)


def mint_legacy(out_path):
    """Keys hashed by each of Django's hashers, as DRF before 3.0 did."""
    import rest_framework_api_key
    from django.test.utils import override_settings
    from django.utils import timezone
    from rest_framework_api_key.models import APIKey

    version = getattr(rest_framework_api_key, "__version__", "?")
    if not version.startswith(("1.", "2.")):
        print(f"--legacy needs djangorestframework-api-key before 3.0, not {version}", file=sys.stderr)
        return 2
    now = timezone.now()
    keys = []
    for hasher in LEGACY_HASHERS:
        first = "django.contrib.auth.hashers." + hasher
        rest = [h for h in settings.PASSWORD_HASHERS if h != first]
        with override_settings(PASSWORD_HASHERS=[first] + rest):
            cases = [(f"{hasher} valid", {})]
            if hasher == "PBKDF2PasswordHasher":
                cases += [
                    (f"{hasher} revoked", {"revoked": True}),
                    (f"{hasher} expired", {"expiry_date": now - datetime.timedelta(days=1)}),
                    (f"{hasher} expiring", {"expiry_date": now + datetime.timedelta(days=30)}),
                ]
            for name, fields in cases:
                record, key = APIKey.objects.create_key(name=name, **fields)
                keys.append({
                    "name": name,
                    "key": key,
                    "hasher": record.hashed_key.split("$")[0],
                    "accepted": APIKey.objects.is_valid(key),
                })
            valid = keys[-len(cases)]["key"]
            prefix, _, secret = valid.partition(".")
            wrong = prefix + "." + secret[:-1] + ("A" if secret[-1] != "A" else "B")
            keys.append({"name": f"{hasher} wrong secret", "key": wrong, "hasher": "", "accepted": APIKey.objects.is_valid(wrong)})
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(keys, out, ensure_ascii=False, indent=1)
    print(f"minted {len(keys)} keys with djangorestframework-api-key {version}'s Django hashers", file=sys.stderr)
    return 0


def act(changes):
    from django.utils import timezone
    from rest_framework_api_key.models import APIKey

    for change in changes:
        what, _, prefix = change.partition(":")
        key = APIKey.objects.get(prefix=prefix)
        if what == "revoke":
            key.revoked = True
            key.save()
        elif what == "delete":
            key.delete()
        elif what == "expire":
            key.expiry_date = timezone.now() - datetime.timedelta(days=1)
            key.save()
        else:
            print(f"unknown change {what!r}: revoke, delete or expire", file=sys.stderr)
            return 2
    print(f"Django made {len(changes)} change(s)", file=sys.stderr)
    return 0


def verify(path):
    from rest_framework_api_key.models import APIKey

    with open(path, encoding="utf-8") as listed:
        keys = json.load(listed)
    wrong = [k for k in keys if APIKey.objects.is_valid(k["key"]) != k["accepted"]]
    for k in wrong:
        print(f"DRF disagrees about {k['name']!r}: expected accepted={k['accepted']}", file=sys.stderr)
    print(f"DRF gives {len(keys) - len(wrong)} of {len(keys)} keys made by the crate the expected verdict", file=sys.stderr)
    return 1 if wrong or not keys else 0


if __name__ == "__main__":
    main()
