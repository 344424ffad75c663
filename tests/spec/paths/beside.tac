return { where = "procedure directory" }
