-- Reserved for issue 20 (DDI), replaced at merge.
SELECT 1;
