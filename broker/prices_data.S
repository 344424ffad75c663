/* The model price table (data/model_prices.json), built into the binary:
 * read by broker/prices.c when a call's cost is needed.  */
  .section .rodata
  .global tr_model_prices
  .global tr_model_prices_end
tr_model_prices:
  .incbin "data/model_prices.json"
tr_model_prices_end:
  .byte 0
  .section .note.GNU-stack, "", @progbits
