"""The e2e lane: each test here starts a whole stack (or several). ``nox -s tests`` runs this lane after the others,
in one process, one test after another: two whole stacks at once on a 2-core machine slow each other down, two
stacks of one stage (``local``) share its folders, and the browser journey's steps build on each other in order."""
