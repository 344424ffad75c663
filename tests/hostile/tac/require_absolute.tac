-- attack: require("/abs/path") loads a module by absolute host path.
-- contained: absolute names are refused; exit 1, the secret never appears.
-- expect: exit=1 error="only modules beside the procedure"
-- forbid: SECRET-
return require(input.outside .. "/secret")
