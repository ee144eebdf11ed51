"""Secrets at rest are read by the app role only through narrow definer functions.

The app role loses SELECT on ``accounts_user.password``,
``accounts_totpdevice.secret`` and ``accounts_recoverycode.code_hash`` (column
privileges, applied after every migrate by ``grant_runtime_privileges`` from the
models' ``secret_columns``). What the application needs of them:

* ``app.user_password_salt(user)``: the stored hash minus its digest, for the
  hashers whose encoding ends in the digest (``pbkdf2_sha256``, ``pbkdf2_sha1``,
  ``scrypt``, ``md5``); NULL for an unusable password or another algorithm.
* ``app.user_password_matches(user, candidate)``: the comparison, in SQL.
* ``app.user_password_fingerprint(user)``: ``sha256(pepper || ':' || hash)``,
  ``!``-prefixed for an unusable password; the pepper is random per database,
  in ``app.password_pepper``, which no runtime role may read.
* ``app.totp_secret(user)``: the TOTP secret, only of the user claimed in
  ``app.user_id`` (the RLS of ``accounts_totpdevice``, now for the one column).
* ``app.recovery_code_use(user, hash)``: marks an unused code of the claimed
  user used; answers whether it was one. Knowing the code is the only way in.

Every function: SECURITY DEFINER, ``SET search_path = pg_catalog, public,
pg_temp``, EXECUTE revoked from PUBLIC.
"""

from django.db import migrations

FORWARD = r"""
CREATE TABLE app.password_pepper (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pepper text NOT NULL
);
REVOKE ALL ON app.password_pepper FROM PUBLIC;
INSERT INTO app.password_pepper (pepper)
VALUES (replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));

CREATE FUNCTION app.user_password_salt(p_user uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN u.password ~ '^(pbkdf2_sha256|pbkdf2_sha1|scrypt|md5)\$'
                THEN regexp_replace(u.password, '\$[^$]*$', '') END
      FROM accounts_user u
     WHERE u.id = p_user
$$;

CREATE FUNCTION app.user_password_matches(p_user uuid, p_candidate text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(
        (SELECT u.password = p_candidate AND left(u.password, 1) <> '!'
           FROM accounts_user u WHERE u.id = p_user),
        false)
$$;

CREATE FUNCTION app.user_password_fingerprint(p_user uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN u.password = '' THEN ''
                ELSE CASE WHEN left(u.password, 1) = '!' THEN '!' ELSE '' END
                     || 'fingerprint$'
                     || encode(sha256(convert_to(p.pepper || ':' || u.password, 'UTF8')), 'hex')
           END
      FROM accounts_user u, app.password_pepper p
     WHERE u.id = p_user
$$;

CREATE FUNCTION app.totp_secret(p_user uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT d.secret FROM accounts_totpdevice d
     WHERE d.user_id = p_user AND p_user = app.current_user_id()
$$;

CREATE FUNCTION app.recovery_code_use(p_user uuid, p_hash text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    UPDATE accounts_recoverycode c SET used_at = now()
     WHERE c.user_id = p_user AND p_user = app.current_user_id()
       AND c.code_hash = p_hash AND c.used_at IS NULL;
    RETURN FOUND;
END
$$;

REVOKE ALL ON FUNCTION app.user_password_salt(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.user_password_matches(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.user_password_fingerprint(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.totp_secret(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.recovery_code_use(uuid, text) FROM PUBLIC;
"""

REVERSE = r"""
DROP FUNCTION IF EXISTS app.recovery_code_use(uuid, text);
DROP FUNCTION IF EXISTS app.totp_secret(uuid);
DROP FUNCTION IF EXISTS app.user_password_fingerprint(uuid);
DROP FUNCTION IF EXISTS app.user_password_matches(uuid, text);
DROP FUNCTION IF EXISTS app.user_password_salt(uuid);
DROP TABLE IF EXISTS app.password_pepper;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_rls_mfa"),
        ("organizations", "0005_pin_function_search_paths"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
