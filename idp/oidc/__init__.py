"""OpenID Connect on Authlib: the authorization server, grants, claims, discovery."""
