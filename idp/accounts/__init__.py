"""Citizens' accounts: registration with the real-name check, passwords, sign-in."""
